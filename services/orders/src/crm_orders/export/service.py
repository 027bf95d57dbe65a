"""The change feeds as NDJSON streams: order lines, interactions and products.

Each page is read on a connection of its own, so a slow reader holds none, and goes out
as one chunk while the next page is being read. Lines are written with orjson straight
from the rows: the schemas in `crm_shared.schemas.exports` describe them (and the tests
hold every line to them), without the cost of a model per row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_orders.export import repository
from crm_orders.export.repository import Row
from crm_shared.db import Database
from crm_shared.types import quantize_money

PAGE_SIZE = 2000
_JSON = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE

Fetch = Callable[[AsyncConnection, int, int], Awaitable[list[Row]]]


class _Feed(NamedTuple):
    fetch: Fetch
    money: tuple[str, ...]  # amounts, rounded to the minor unit of the row's `currency`


ORDER_LINES = _Feed(
    repository.order_line_changes, ("unit_price", "discount", "line_total", "refunded_amount")
)
INTERACTIONS = _Feed(repository.interaction_changes, ())
PRODUCTS = _Feed(repository.product_changes, ("price",))


class _Page(NamedTuple):
    rows: int
    last_position: int
    ndjson: bytes


def _text(value: Any) -> str:
    # asyncpg's own UUID type, which orjson does not know as a UUID.
    return str(value)


async def _page(database: Database, feed: _Feed, after: int, size: int) -> _Page:
    async with database.engine.connect() as db:
        rows = await feed.fetch(db, after, size)
    if not rows:
        return _Page(0, after, b"")
    for name in feed.money:
        for row in rows:
            row[name] = str(quantize_money(row[name], row["currency"]))
    ndjson = b"".join([orjson.dumps(row, option=_JSON, default=_text) for row in rows])
    return _Page(len(rows), rows[-1]["position"], ndjson)


async def _stream(
    database: Database, feed: _Feed, after: int, limit: int | None, page_size: int
) -> AsyncIterator[bytes]:
    """The pages after `after`; the next page is read while this one is written out."""
    remaining = limit
    size = page_size if limit is None else min(page_size, limit)
    reading: asyncio.Task[_Page] | None = asyncio.create_task(_page(database, feed, after, size))
    try:
        while reading is not None:
            page = await reading
            reading = None
            if remaining is not None:
                remaining -= page.rows
            if page.rows == size and (remaining is None or remaining > 0):
                size = page_size if remaining is None else min(page_size, remaining)
                reading = asyncio.create_task(_page(database, feed, page.last_position, size))
            if page.rows:
                yield page.ndjson
    finally:
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading


def order_line_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _stream(database, ORDER_LINES, after, limit, page_size)


def interaction_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _stream(database, INTERACTIONS, after, limit, page_size)


def product_changes(
    database: Database, after: int, limit: int | None, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    return _stream(database, PRODUCTS, after, limit, page_size)
