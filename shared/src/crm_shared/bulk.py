"""Bulk endpoints' plumbing: NDJSON bodies cut into numbered rows, row errors, fast inserts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from sqlalchemy import JSON, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import dialect_of
from crm_shared.errors import DomainError, Unprocessable
from crm_shared.schemas.common import FieldError
from crm_shared.schemas.customers import ImportRowError

NDJSON_MEDIA_TYPES = ("application/x-ndjson", "application/ndjson")
# A row is a few kilobytes at most; a line this long is not a row.
MAX_LINE_BYTES = 1 << 20
MAX_REPORTED_ERRORS = 1000

BatchT = TypeVar("BatchT")


class UnsupportedImportType(DomainError):
    status = 415
    slug = "unsupported-import-type"
    title = "The import body must be application/x-ndjson"


class ImportTooLarge(DomainError):
    status = 413
    slug = "import-too-large"
    title = "The import carries more rows than one request may"


class ImportMalformed(Unprocessable):
    slug = "import-malformed"
    title = "The import body cannot be split into rows"


def require_ndjson(content_type: str | None) -> None:
    media_type, _, parameters = (content_type or "").partition(";")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", parameters, re.IGNORECASE)
    if media_type.strip().lower() not in NDJSON_MEDIA_TYPES or (
        charset is not None and charset.group(1).lower() not in ("utf-8", "utf8")
    ):
        raise UnsupportedImportType(
            f"Content-Type {content_type!r} is not supported; send UTF-8 application/x-ndjson, "
            "one JSON object per line."
        )


async def ndjson_batches(
    chunks: AsyncIterator[bytes], *, batch_size: int, max_rows: int
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """The body's non-blank lines, numbered from 1, in lists of up to `batch_size`."""
    pending = b""
    number = 0
    batch: list[tuple[int, bytes]] = []
    finished = False
    while not finished:
        chunk = await anext(chunks, None)
        if chunk is None:
            data, pending, finished = pending, b"", True
        else:
            data = pending + chunk if pending else chunk
            cut = data.rfind(b"\n") + 1
            data, pending = data[:cut], data[cut:]
            if len(pending) > MAX_LINE_BYTES:
                raise ImportMalformed(f"Row {number + 1} is longer than {MAX_LINE_BYTES} bytes.")
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            number += 1
            if number > max_rows:
                raise ImportTooLarge(
                    f"The import has more than {max_rows} rows; split it into several requests."
                )
            batch.append((number, line))
        while len(batch) >= batch_size or (finished and batch):
            yield batch[:batch_size]
            batch = batch[batch_size:]


@contextlib.contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic garbage collection while a batch is parsed or shaped for writing.

    A batch's thousands of new objects all live until it is written, so collections in
    the middle of making them free nothing, yet scan the whole heap over and over: it
    more than doubles an import's time. Only for code that does not await, so nothing
    else runs meanwhile; the collector catches up once it is back on.

    With `freeze`, for the batches of `write_while_reading`, the objects made so far are
    frozen on the way out (`gc.freeze` only moves a list): collections while the batch is
    written need not scan its objects again and again, which cost a tenth of an order
    import, and reference counting frees them once written. The freeze is process-wide:
    the last import running unfreezes everything when it ends, so the collector still
    gets to any cycle among them (or among other requests' objects frozen meanwhile).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()


async def write_while_reading(
    batches: AsyncGenerator[BatchT], write: Callable[[BatchT], Coroutine[Any, Any, None]]
) -> None:
    """`write` every batch in order; the next batch is read and parsed meanwhile.

    One write at a time (they share the request's session), and the session is idle again
    before this returns or raises, so the request's transaction can end cleanly.
    """
    global _imports_running
    _imports_running += 1
    writing: asyncio.Task[None] | None = None
    try:
        async with contextlib.aclosing(batches):
            async for batch in batches:
                if writing is not None:
                    await writing
                writing = asyncio.create_task(write(batch))
        if writing is not None:
            await writing
    except BaseException:
        if writing is not None:
            with contextlib.suppress(BaseException):
                await writing
        raise
    finally:
        _imports_running -= 1
        if not _imports_running:
            # What `gc_paused(freeze=True)` froze goes back to the collector, once no other
            # import still counts on its own batches staying frozen.
            gc.unfreeze()


# Imports inside `write_while_reading` now: the freeze they share ends with the last one.
_imports_running = 0


def field_errors(exc: ValidationError) -> list[FieldError]:
    """A row's validation errors, each named by its dotted path in the row."""
    return [
        FieldError(
            field=".".join(str(part) for part in error["loc"]) or "row",
            message=error["msg"].removeprefix("Value error, "),
            code=error["type"],
        )
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


@dataclass
class RowErrors:
    """The rejected rows of an import: all counted, the first 1000 listed."""

    rejected: int = 0
    listed: list[ImportRowError] = field(default_factory=list)

    def reject(self, row: int, errors: list[FieldError]) -> None:
        self.rejected += 1
        if len(self.listed) < MAX_REPORTED_ERRORS:
            self.listed.append(ImportRowError(row=row, errors=errors))

    @property
    def truncated(self) -> bool:
        return self.rejected > len(self.listed)

    def in_row_order(self) -> list[ImportRowError]:
        """The listed errors by row: rows fail at different stages of a pipelined import."""
        return sorted(self.listed, key=lambda error: error.row)


async def insert_many(session: AsyncSession, table: Table, records: list[dict[str, Any]]) -> None:
    """Insert rows that all carry the same columns: binary COPY on PostgreSQL.

    The COPY runs on the session's own driver connection, inside its transaction.
    """
    if not records:
        return
    if dialect_of(session) != "postgresql":
        await session.execute(insert(table), records)
        return
    columns = list(records[0])
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the session's connection was closed under the import")
    with gc_paused():
        rows = _tuples(table, columns, records)
    await driver.copy_records_to_table(table.name, records=rows, columns=columns)


async def insert_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as value sequences in the order of `columns` (no JSON columns):
    binary COPY on PostgreSQL, straight from the rows, inside the session's transaction."""
    if not rows:
        return
    if dialect_of(session) != "postgresql":
        await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the session's connection was closed under the import")
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


def _tuples(table: Table, columns: list[str], records: Iterable[dict[str, Any]]) -> list[Any]:
    # Without SQLAlchemy's type processing: JSON goes as text, as the jsonb codec expects.
    values = itemgetter(*columns)
    json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    if len(columns) == 1:
        return [(values(record),) for record in records]
    if not json_at:
        return [values(record) for record in records]
    rows = []
    for record in records:
        row = list(values(record))
        for i in json_at:
            row[i] = orjson.dumps(row[i]).decode()
        rows.append(row)
    return rows
