"""Copies of another service's data, kept current by pulling its change feed.

A feed (`GET /v1/.../export?cursor=N`) streams NDJSON lines with a monotonic `position`.
`pull_feed` reads everything after the stored cursor in batches; each batch is applied
and the cursor advanced in one transaction, so a pull that dies half-way resumes exactly
where the last committed batch ended, and no change is applied twice or skipped.

The cursor row also records when the copy was last brought fully up to date and the last
error, which is how a service says how stale its answers are while an owner is down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_shared.db import Database, UTCDateTime, dialect_of
from crm_shared.errors import UpstreamUnavailable
from crm_shared.http import service_client

log = logging.getLogger("crm.sync")

Line = dict[str, Any]
Apply = Callable[[AsyncConnection, list[Line]], Awaitable[None]]

BATCH_LINES = 5000


def sync_cursor_table(metadata: MetaData) -> Table:
    return Table(
        "sync_cursors",
        metadata,
        Column("feed", String(60), primary_key=True),
        Column("position", BigInteger, nullable=False),
        Column("synced_at", UTCDateTime(timezone=True), nullable=True),
        Column("attempted_at", UTCDateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
    )


class FeedUnavailable(UpstreamUnavailable):
    slug = "feed-unavailable"
    title = "A source service's change feed is unavailable"


@dataclass(frozen=True)
class FeedState:
    feed: str
    position: int
    synced_at: dt.datetime | None
    attempted_at: dt.datetime | None
    last_error: str | None

    def staleness_seconds(self, now: dt.datetime | None = None) -> float | None:
        """Seconds since the copy was last complete; None if it never was."""
        if self.synced_at is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (now - self.synced_at).total_seconds())


@dataclass(frozen=True)
class PullResult:
    feed: str
    lines: int
    position: int


async def feed_states(database: Database, cursors: Table) -> dict[str, FeedState]:
    async with database.engine.connect() as db:
        rows = (await db.execute(select(cursors))).all()
    return {
        row.feed: FeedState(row.feed, row.position, row.synced_at, row.attempted_at, row.last_error)
        for row in rows
    }


async def feed_position(db: AsyncConnection, cursors: Table, feed: str) -> int:
    position = await db.scalar(select(cursors.c.position).where(cursors.c.feed == feed))
    return int(position or 0)


async def _ensure_cursor(db: AsyncConnection, cursors: Table, feed: str) -> None:
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    await db.execute(
        insert(cursors)
        .values(feed=feed, position=0)
        .on_conflict_do_nothing(index_elements=["feed"])
    )


async def _update(db: AsyncConnection, cursors: Table, feed: str, **values: Any) -> None:
    await db.execute(update(cursors).where(cursors.c.feed == feed).values(**values))


class _Overtaken(Exception):
    """Another process advanced the cursor meanwhile: it is pulling this feed."""


async def _hold_cursor(db: AsyncConnection, cursors: Table, feed: str, expected: int) -> None:
    """Lock the cursor row for this transaction and check it is where this pull left it.

    Replicas pulling the same feed into one database take turns batch by batch; one that
    finds the cursor moved by another stops, so no batch is applied twice or out of order.
    (SQLite writers are serialised already by `BEGIN IMMEDIATE`.)
    """
    statement = select(cursors.c.position).where(cursors.c.feed == feed)
    if dialect_of(db) == "postgresql":
        statement = statement.with_for_update()
    if int(await db.scalar(statement) or 0) != expected:
        raise _Overtaken


async def read_lines(
    client: httpx.AsyncClient, path: str, cursor: int, batch_lines: int = BATCH_LINES
) -> AsyncIterator[list[Line]]:
    """The feed's lines after `cursor`, in batches of at most `batch_lines`."""
    async with client.stream("GET", path, params={"cursor": cursor}) as response:
        if response.status_code != 200:
            await response.aread()
            raise FeedUnavailable(f"{path} answered {response.status_code}")
        batch: list[Line] = []
        async for text in response.aiter_lines():
            if not text:
                continue
            batch.append(orjson.loads(text))
            if len(batch) >= batch_lines:
                yield batch
                batch = []
        if batch:
            yield batch


async def pull_feed(
    database: Database,
    cursors: Table,
    feed: str,
    client: httpx.AsyncClient,
    path: str,
    apply: Apply,
    *,
    batch_lines: int = BATCH_LINES,
) -> PullResult:
    """Apply every line of `path` after the stored cursor of `feed`; see the module doc.

    Raises `FeedUnavailable` (after recording the error) when the source cannot be read
    to its end; the batches applied before that stay applied.
    """
    async with database.writer() as db:
        await _ensure_cursor(db, cursors, feed)
        position = await feed_position(db, cursors, feed)
    lines = 0
    try:
        async for batch in read_lines(client, path, position, batch_lines):
            async with database.writer() as db:
                await _hold_cursor(db, cursors, feed, position)
                await apply(db, batch)
                position = int(batch[-1]["position"])
                await _update(db, cursors, feed, position=position)
            lines += len(batch)
    except _Overtaken:
        log.info("feed pulled by another process", extra={"feed": feed})
        return PullResult(feed, lines, position)
    except (httpx.HTTPError, orjson.JSONDecodeError, FeedUnavailable) as error:
        detail = str(error) or type(error).__name__
        async with database.writer() as db:
            await _update(db, cursors, feed, attempted_at=_now(), last_error=detail)
        log.warning("feed pull failed", extra={"feed": feed, "error": detail})
        raise FeedUnavailable(f"{feed}: {detail}") from error
    async with database.writer() as db:
        now = _now()
        await _update(db, cursors, feed, synced_at=now, attempted_at=now, last_error=None)
    return PullResult(feed, lines, position)


@dataclass
class Sources:
    """Clients of the services whose feeds a service copies: customer and orders."""

    customers: httpx.AsyncClient
    orders: httpx.AsyncClient


@asynccontextmanager
async def source_clients(
    customer_url: str, orders_url: str, service_token: str, timeout_seconds: float
) -> AsyncIterator[Sources]:
    async with (
        service_client(customer_url, service_token, timeout_seconds=timeout_seconds) as customers,
        service_client(orders_url, service_token, timeout_seconds=timeout_seconds) as orders,
    ):
        yield Sources(customers=customers, orders=orders)


def sources_of(app: FastAPI) -> Sources:
    sources: Sources = app.state.sources
    return sources


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
