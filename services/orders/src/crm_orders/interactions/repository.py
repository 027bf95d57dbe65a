"""All SQL of the interactions domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, String, Uuid, any_, bindparam, insert, or_, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.catalogue.models import Product
from crm_orders.database import INTERACTION_FEED, feed_counter
from crm_orders.interactions.models import Interaction
from crm_shared.db import dialect_of
from crm_shared.feed import hold, take_positions

interactions = Interaction.__table__  # type: ignore[attr-defined]
products = Product.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection

# The columns an insert writes, in this order.
COLUMNS = (
    "id",
    "event_id",
    "kind",
    "customer_id",
    "session_id",
    "product_id",
    "rating",
    "review_text",
    "occurred_at",
    "received_at",
    "change_position",
)
# Keys per IN list on SQLite: far below its limit of bind parameters (32766).
_IN_CHUNK = 5000
# Below this many rows a COPY's extra round trips cost more than it saves.
_COPY_FROM = 50


async def products_by_ref(
    db: Db, skus: Sequence[str], product_ids: Sequence[uuid.UUID]
) -> list[Row[Any]]:
    """`(id, sku)` of the products named by any of these skus or ids."""
    columns = (products.c.id, products.c.sku)
    if dialect_of(db) == "postgresql":
        # A union of two `= ANY` probes, one array each, lets both use their index and
        # keeps one statement (and plan) whatever the batch.
        by_sku = select(*columns).where(products.c.sku == any_(bindparam("skus", ARRAY(String))))
        by_id = select(*columns).where(products.c.id == any_(bindparam("ids", ARRAY(Uuid))))
        statement = union_all(by_sku, by_id)
        result = await db.execute(statement, {"skus": list(skus), "ids": list(product_ids)})
        return list(result.all())
    found: list[Row[Any]] = []
    for column, keys in ((products.c.sku, list(skus)), (products.c.id, list(product_ids))):
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            found.extend((await db.execute(select(*columns).where(column.in_(chunk)))).all())
    return found


async def product_exists(db: Db, product_id: uuid.UUID) -> bool:
    statement = select(products.c.id).where(products.c.id == product_id)
    return (await db.execute(statement)).first() is not None


async def lock_feed(session: AsyncSession) -> None:
    """Hold the interactions feed until the transaction ends, without taking a position.

    Every insert of interactions takes its positions from this feed, so once it is held
    no other writer of interactions can commit: event ids found stored (or not) stay so.
    """
    await hold(session, feed_counter, INTERACTION_FEED)


async def next_positions(session: AsyncSession, count: int) -> int:
    return await take_positions(session, feed_counter, INTERACTION_FEED, count)


async def stored_event_ids(session: AsyncSession, event_ids: Sequence[str]) -> set[str]:
    """Those of `event_ids` already stored."""
    if not event_ids:
        return set()
    column = interactions.c.event_id
    if dialect_of(session) == "postgresql":
        probe = column == any_(bindparam("event_ids", ARRAY(String)))
        result = await session.execute(select(column).where(probe), {"event_ids": event_ids})
        return set(result.scalars())
    found: set[str] = set()
    for start in range(0, len(event_ids), _IN_CHUNK):
        chunk = event_ids[start : start + _IN_CHUNK]
        found.update((await session.execute(select(column).where(column.in_(chunk)))).scalars())
    return found


async def insert_interactions(session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
    """Insert rows of `COLUMNS`: a binary COPY on PostgreSQL, in the session's transaction."""
    if not records:
        return
    if dialect_of(session) != "postgresql" or len(records) < _COPY_FROM:
        rows = [dict(zip(COLUMNS, record, strict=True)) for record in records]
        await session.execute(insert(interactions), rows)
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the session's connection was closed under the batch")
    await driver.copy_records_to_table(interactions.name, records=records, columns=COLUMNS)


async def get_by_event_id(db: Db, event_id: str) -> Row[Any] | None:
    statement = select(interactions).where(interactions.c.event_id == event_id)
    return (await db.execute(statement)).first()


async def get_row(db: Db, interaction_id: uuid.UUID) -> Row[Any] | None:
    statement = select(interactions).where(interactions.c.id == interaction_id)
    return (await db.execute(statement)).first()


async def customer_rows(
    db: Db,
    customer_id: uuid.UUID,
    *,
    kind: str | None,
    before: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """One page of a customer's interactions, newest first; fetches `limit + 1` rows."""
    statement = select(interactions).where(interactions.c.customer_id == customer_id)
    if kind is not None:
        statement = statement.where(interactions.c.kind == kind)
    return await _newest_first(db, statement, before, limit)


async def review_rows(
    db: Db, product_id: uuid.UUID, *, before: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> Sequence[Row[Any]]:
    """One page of a product's reviews, newest first; fetches `limit + 1` rows."""
    statement = select(interactions).where(
        interactions.c.product_id == product_id, interactions.c.kind == "review"
    )
    return await _newest_first(db, statement, before, limit)


async def _newest_first(
    db: Db, statement: Any, before: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> Sequence[Row[Any]]:
    occurred_at, interaction_id = interactions.c.occurred_at, interactions.c.id
    if before is not None:
        at, last_id = before
        # The plain bound on occurred_at lets the index start at the cursor.
        statement = statement.where(
            occurred_at <= at, or_(occurred_at < at, interaction_id < last_id)
        )
    statement = statement.order_by(occurred_at.desc(), interaction_id.desc()).limit(limit + 1)
    return (await db.execute(statement)).all()
