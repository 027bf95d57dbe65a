"""The change feeds as NDJSON streams: order lines, interactions and products.

Each page is read on a connection of its own, so a slow reader holds none, and goes out
as one chunk. Lines are written with orjson straight from the rows: the schemas in
`crm_shared.schemas.exports` describe them (and the tests hold each line to them), but
building a model per row would halve the feed's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_orders.export import repository
from crm_shared.db import Database
from crm_shared.types import quantize_money

PAGE_SIZE = 2000
_JSON = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
_LINE_MONEY = ("unit_price", "discount", "line_total", "refunded_amount")

Row = dict[str, Any]
Fetch = Callable[[AsyncConnection, int, int], Awaitable[list[Row]]]


def _text(value: Any) -> str:
    # asyncpg's own UUID type, which orjson does not know as a UUID.
    return str(value)


def order_line_json(values: Row) -> bytes:
    currency = values["currency"]
    for name in _LINE_MONEY:
        values[name] = str(quantize_money(values[name], currency))
    return orjson.dumps(values, option=_JSON, default=_text)


def interaction_json(values: Row) -> bytes:
    return orjson.dumps(values, option=_JSON, default=_text)


def product_json(values: Row) -> bytes:
    values["price"] = str(quantize_money(values["price"], values["currency"]))
    return orjson.dumps(values, option=_JSON, default=_text)


async def _page(database: Database, fetch: Fetch, after: int, size: int) -> list[Row]:
    async with database.engine.connect() as db:
        return await fetch(db, after, size)


async def _feed(
    database: Database,
    fetch: Fetch,
    line: Callable[[Row], bytes],
    after: int,
    limit: int | None,
    page_size: int,
) -> AsyncIterator[bytes]:
    """The pages after `after`; the next page is read while this one is written out."""
    remaining = limit
    size = page_size if limit is None else min(page_size, limit)
    reading: asyncio.Task[list[Row]] | None = asyncio.create_task(
        _page(database, fetch, after, size)
    )
    try:
        while reading is not None:
            rows = await reading
            reading = None
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) == size and (remaining is None or remaining > 0):
                size = page_size if remaining is None else min(page_size, remaining)
                reading = asyncio.create_task(_page(database, fetch, rows[-1]["position"], size))
            if rows:
                yield b"".join([line(row) for row in rows])
    finally:
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading


def order_line_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _feed(database, repository.order_line_changes, order_line_json, after, limit, page_size)


def interaction_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _feed(
        database, repository.interaction_changes, interaction_json, after, limit, page_size
    )


def product_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _feed(database, repository.product_changes, product_json, after, limit, page_size)
