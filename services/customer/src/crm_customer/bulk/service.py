"""The bulk import: rows streamed in, matched to live customers, written batch by batch.

Rows apply in file order, as if imported one by one: a later row about the same customer
wins, and a batch is matched against the database as the earlier batches left it. Each
batch costs one lookup, one block of feed positions and a few set-based writes; while
the database writes one batch, the next one is parsed and validated.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import hashlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fastapi.responses import Response
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.bulk import repository
from crm_customer.bulk.errors import ImportRejected, ImportTooLarge
from crm_customer.bulk.parsing import ImportFormat, ImportRow, RowParser, row_parser
from crm_customer.bulk.repository import IMPORTED_COLUMNS
from crm_customer.customers.matching import email_key, name_address_key, phone_key
from crm_customer.customers.repository import next_position
from crm_customer.database import idempotency
from crm_shared.db import utcnow
from crm_shared.idempotency import REPLAYED_HEADER
from crm_shared.ids import uuid7
from crm_shared.schemas.common import FieldError
from crm_shared.schemas.customers import ImportErrorPolicy, ImportReport, ImportRowError

IMPORT_SCOPE = "POST /v1/customers/import"
MAX_REPORTED_ERRORS = 1000
_SLICE = 4 * 1024  # bytes of the body parsed between two turns of the event loop
ANALYZE_AFTER = 5000
_COMPARED = (*IMPORTED_COLUMNS, "tags", "consents")


@dataclass(frozen=True)
class ImportJob:
    format: ImportFormat
    policy: ImportErrorPolicy
    batch_size: int
    max_rows: int


@dataclass
class _Tally:
    """The report as it grows, batch by batch."""

    received: int = 0
    rejected: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    # Customer ids as integers: a set of 100,000 UUID objects would cost the garbage
    # collector a scan of each at every full collection.
    inserted: set[int] = field(default_factory=set)
    updated: set[int] = field(default_factory=set)

    def reject(self, row: int, errors: list[FieldError]) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(ImportRowError(row=row, errors=errors))

    def report(self, committed: bool) -> ImportReport:
        return ImportReport(
            received=self.received,
            inserted=len(self.inserted),
            updated=len(self.updated),
            rejected=self.rejected,
            committed=committed,
            errors=self.errors,
            errors_truncated=self.rejected > len(self.errors),
        )


async def import_customers(
    session: AsyncSession, chunks: AsyncIterator[bytes], job: ImportJob
) -> ImportReport:
    """Import every row of the body; with `abort`, one invalid row refuses them all."""
    tally = _Tally()
    writer = _BatchWriter(session, tally)
    writing: asyncio.Task[None] | None = None
    async with _collector_paused():
        try:
            async with contextlib.aclosing(_batches(chunks, job, tally)) as batches:
                async for batch in batches:
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(writer.write(batch))
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None:
                # The session must be idle before the request's transaction rolls back.
                with contextlib.suppress(BaseException):
                    await writing
            raise
    committed = job.policy is ImportErrorPolicy.skip or tally.rejected == 0
    report = tally.report(committed)
    if not committed:
        raise ImportRejected(report)
    return report


_pausing_imports = 0


@contextlib.asynccontextmanager
async def _collector_paused() -> AsyncIterator[None]:
    """Python's cycle collector paused while rows stream through.

    An import allocates millions of small containers that reference counting frees; the
    rows of a batch in flight survive long enough to be scanned again and again, which
    took a fifth of the import's CPU. Cycles made meanwhile are collected after it.
    """
    global _pausing_imports
    if _pausing_imports == 0 and not gc.isenabled():
        yield  # paused by someone else, who will resume it
        return
    _pausing_imports += 1
    gc.disable()
    try:
        yield
    finally:
        _pausing_imports -= 1
        if _pausing_imports == 0:
            gc.enable()


async def import_customers_once(
    session: AsyncSession, chunks: AsyncIterator[bytes], job: ImportJob, key: str
) -> Response:
    """`import_customers` under an Idempotency-Key: a retry gets the first report.

    The key can only be checked once the body has been read (its fingerprint is the hash
    of the whole stream), so the import runs in a savepoint that a replay rolls back.
    """
    fingerprint = hashlib.sha256(f"{job.format}\n{job.policy}\n".encode())
    savepoint = await session.begin_nested()
    produce: Callable[[], Awaitable[ImportReport]]
    try:
        report = await import_customers(session, _hashed(chunks, fingerprint), job)
    except ImportRejected as rejected:
        # Refused now, but the first attempt with this key may have been stored.
        await savepoint.rollback()
        produce = _raise(rejected)
    else:
        produce = _return(report)
    response = await idempotency.respond(
        session,
        key=key,
        scope=IMPORT_SCOPE,
        fingerprint=fingerprint.hexdigest(),
        status_code=200,
        produce=produce,
    )
    if savepoint.is_active:
        if response.headers.get(REPLAYED_HEADER):
            await savepoint.rollback()
        else:
            await savepoint.commit()
    return response


def _return(report: ImportReport) -> Callable[[], Awaitable[ImportReport]]:
    async def produce() -> ImportReport:
        return report

    return produce


def _raise(error: Exception) -> Callable[[], Awaitable[ImportReport]]:
    async def produce() -> ImportReport:
        raise error

    return produce


async def _hashed(chunks: AsyncIterator[bytes], fingerprint: Any) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        fingerprint.update(chunk)
        yield chunk


async def _batches(
    chunks: AsyncIterator[bytes], job: ImportJob, tally: _Tally
) -> AsyncGenerator[_Batch]:
    """The body's rows, parsed and drafted, in batches of `batch_size`.

    A chunk is parsed a slice at a time, handing the event loop back in between: the
    write of the previous batch then keeps the database fed instead of waiting for a
    whole chunk to be parsed.
    """
    parser: RowParser = row_parser(job.format, utcnow())
    batch = _Batch()
    finished = False
    pieces: Iterable[list[ImportRow]]
    while not finished:
        chunk = await anext(chunks, None)
        if chunk is None:
            pieces = [parser.finish()]
            finished = True
        else:
            pieces = (
                parser.feed(chunk[start : start + _SLICE]) for start in range(0, len(chunk), _SLICE)
            )
        for rows in pieces:
            if parser.rows > job.max_rows:
                raise ImportTooLarge(
                    f"The import has more than {job.max_rows} rows; split it into several requests."
                )
            tally.received = parser.rows
            batch.add(rows)
            while len(batch.rows) >= job.batch_size:
                full, batch = batch.split(job.batch_size)
                yield full
            await asyncio.sleep(0)
    if batch.rows:
        yield batch


@dataclass(slots=True, eq=False)
class _Customer:
    id: uuid.UUID
    values: dict[str, Any]  # every column of _COMPARED, as the rows so far left them
    stored: dict[str, Any] | None  # as the database holds them; None when new
    keyed: bool = False  # whether values carry match keys computed from them


class _Batch:
    """Rows to write together, with what can be worked out before the database answers.

    Most rows of an import create a customer, so each valid row comes with that customer
    drafted (id, columns, match keys), while the previous batch is being written. A row
    that turns out to update a customer drops its draft.
    """

    def __init__(self) -> None:
        self.rows: list[ImportRow] = []
        self.drafts: list[_Customer | None] = []

    def add(self, rows: list[ImportRow]) -> None:
        self.rows.extend(rows)
        self.drafts.extend(_draft(row) if row.errors is None else None for row in rows)

    def split(self, size: int) -> tuple[_Batch, _Batch]:
        head, tail = _Batch(), _Batch()
        head.rows, tail.rows = self.rows[:size], self.rows[size:]
        head.drafts, tail.drafts = self.drafts[:size], self.drafts[size:]
        return head, tail

    def keys(self) -> tuple[list[str], list[str]]:
        """The external_refs and emails the rows name."""
        values = [row.values for row in self.rows]
        refs = {v["external_ref"] for v in values if v.get("external_ref") is not None}
        emails = {v["email"] for v in values if v.get("email") is not None}
        return sorted(refs), sorted(emails)


class _Update(NamedTuple):
    customer: _Customer
    stored: dict[str, Any]
    changed: list[str]


def _stored(row: Row[Any]) -> _Customer:
    stored = {name: getattr(row, name) for name in _COMPARED}
    return _Customer(row.id, dict(stored), stored)


_BLANK: dict[str, Any] = {**dict.fromkeys(IMPORTED_COLUMNS), "lifecycle_stage": "new"}


def _draft(row: ImportRow) -> _Customer:
    values = {**_BLANK, **row.values}
    values["tags"] = sorted(set(row.tags))
    values["consents"] = row.consents
    _add_match_keys(values)
    return _Customer(uuid7(), values, None, keyed=True)


def _apply(customer: _Customer, row: ImportRow) -> None:
    values = customer.values
    values.update(row.values)
    customer.keyed = False
    if row.tags:
        tags = values["tags"]
        if any(tag not in tags for tag in row.tags):
            values["tags"] = sorted({*tags, *row.tags})
    for channel, state in row.consents.items():
        current = values["consents"].get(channel)
        # Re-importing the consent a customer already gave keeps when and where it was
        # first given; an older statement than the recorded one changes nothing.
        if current is not None and (
            current["granted"] == state["granted"] or current["recorded_at"] > state["recorded_at"]
        ):
            continue
        values["consents"] = {**values["consents"], channel: state}


class _Index:
    """The customers a batch may touch, by their keys as the rows so far left them."""

    def __init__(self, rows: list[Row[Any]]) -> None:
        self.by_ref: dict[str, _Customer] = {}
        self.by_email: dict[str, _Customer] = {}
        for row in rows:
            self.add(_stored(row))

    def add(self, customer: _Customer) -> None:
        if customer.values["external_ref"] is not None:
            self.by_ref[customer.values["external_ref"]] = customer
        if customer.values["email"] is not None:
            self.by_email[customer.values["email"]] = customer

    def remove(self, customer: _Customer) -> None:
        ref, email = customer.values["external_ref"], customer.values["email"]
        if ref is not None and self.by_ref.get(ref) is customer:
            del self.by_ref[ref]
        if email is not None and self.by_email.get(email) is customer:
            del self.by_email[email]


class _BatchWriter:
    """Writes batches one after the other on the request's session."""

    def __init__(self, session: AsyncSession, tally: _Tally) -> None:
        self.session = session
        self.tally = tally
        self.analyze_after: float | None = None

    async def write(self, batch: _Batch) -> None:
        if self.analyze_after is None:
            known = await repository.planner_rows(self.session)
            self.analyze_after = max(ANALYZE_AFTER, 2 * known)
        found = await repository.live_customers(self.session, *batch.keys())
        touched = self._match(batch, _Index(found))
        inserts: list[_Customer] = []
        updates: list[_Update] = []
        for customer in touched:
            if customer.stored is None:
                inserts.append(customer)
            elif changed := _changes(customer.values, customer.stored):
                updates.append(_Update(customer, customer.stored, changed))
        if inserts or updates:
            await self._store(inserts, updates)
        if len(self.tally.inserted) >= self.analyze_after:
            # Once the import outgrows what the planner knows of the table, the lookups
            # of the next batches need fresh statistics to use the key indexes.
            await repository.refresh_planner_statistics(self.session)
            self.analyze_after = float("inf")

    def _match(self, batch: _Batch, index: _Index) -> list[_Customer]:
        """Apply the rows in order to the customers they match; the customers touched."""
        touched: dict[_Customer, None] = {}
        for row, draft in zip(batch.rows, batch.drafts, strict=True):
            if draft is None:
                self.tally.reject(row.row, row.errors or [])
                continue
            ref, email = row.values.get("external_ref"), row.values.get("email")
            customer = index.by_ref.get(ref) if ref is not None else index.by_email.get(email or "")
            owner = index.by_email.get(email) if email is not None else None
            if owner is not None and owner is not customer:
                message = (
                    f"belongs to another customer than external_ref {ref!r}"
                    if customer is not None
                    else "belongs to another customer"
                )
                error = FieldError(field="email", message=message, code="email_taken")
                self.tally.reject(row.row, [error])
                continue
            if customer is None:
                customer = draft
            else:
                index.remove(customer)
                _apply(customer, row)
            index.add(customer)
            touched[customer] = None
        return list(touched)

    async def _store(self, inserts: list[_Customer], updates: list[_Update]) -> None:
        session, tally = self.session, self.tally
        position = await next_position(session, len(inserts) + len(updates))
        now = utcnow()
        changed_rows: list[dict[str, Any]] = []
        updated_events: list[dict[str, Any]] = []
        new_tags: list[dict[str, Any]] = []
        for customer, stored, changed in updates:
            _add_match_keys(customer.values)
            changed_rows.append({"customer_id": customer.id, **_stamped(customer, position, now)})
            position += 1
            if "tags" in changed:
                known = set(stored["tags"])
                new_tags.extend(
                    {"customer_id": customer.id, "tag": tag}
                    for tag in customer.values["tags"]
                    if tag not in known
                )
            if customer.id.int not in tally.inserted:
                tally.updated.add(customer.id.int)
                updated_events.append(
                    {
                        "id": uuid7(),
                        "customer_id": customer.id,
                        "at": now,
                        "kind": "updated",
                        "data": {"fields": sorted(changed)},
                    }
                )
        created_rows: list[dict[str, Any]] = []
        for customer in inserts:
            if not customer.keyed:
                _add_match_keys(customer.values)
            record = _stamped(customer, position, now)
            record["id"] = customer.id
            record["created_at"] = now
            created_rows.append(record)
            position += 1
            new_tags.extend({"customer_id": customer.id, "tag": tag} for tag in record["tags"])
        tally.inserted.update(customer.id.int for customer in inserts)
        # A key may pass from one customer to another within the batch; free the keys of
        # every customer whose keys change so no statement sees a key held twice.
        moving = [
            update.customer.id
            for update in updates
            if "email" in update.changed or "external_ref" in update.changed
        ]
        await repository.release_keys(session, moving)
        await repository.update_customers(session, changed_rows)
        await repository.insert_customers(session, created_rows)
        await repository.insert_tags(session, new_tags)
        await repository.insert_events(session, updated_events)


def _changes(values: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    return [name for name in _COMPARED if values[name] != stored[name]]


def _add_match_keys(values: dict[str, Any]) -> None:
    values["email_key"] = email_key(values["email"])
    values["phone_key"] = phone_key(values["phone"])
    values["name_address_key"] = name_address_key(
        values["first_name"], values["last_name"], values["postal_code"], values["address_line1"]
    )


def _stamped(customer: _Customer, position: int, now: dt.datetime) -> dict[str, Any]:
    """The customer's columns as written: at its place in the export feed.

    The values themselves become the record: the customer is done with once written.
    """
    values = customer.values
    values["change_position"] = position
    values["updated_at"] = now
    return values
