"""All SQL of the duplicates domain: match-key groups, locking a pair, moving what a merge moves."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.customers.models import Customer
from crm_customer.customers.repository import Db, customers
from crm_customer.tickets.models import Ticket

tickets = Ticket.__table__  # type: ignore[attr-defined]

# Each kind of match is one indexed column of the customers table.
_KEY_COLUMNS: dict[str, ColumnElement[Any]] = {
    "email": customers.c.email_key,
    "phone": customers.c.phone_key,
    "name_address": customers.c.name_address_key,
}


def _key_column(kind: str) -> ColumnElement[Any]:
    return _KEY_COLUMNS[kind]


async def shared_keys(db: Db, kind: str, *, after: str | None, limit: int) -> Sequence[Row[Any]]:
    """Keys that two or more live customers share, in key order, with how many share each.

    One GROUP BY walking the key's index in order, so a page stops after `limit` groups.
    """
    column = _key_column(kind)
    statement = (
        select(column.label("key"), func.count().label("size"))
        .where(column.is_not(None), customers.c.deleted_at.is_(None))
        .group_by(column)
        .having(func.count() > 1)
        .order_by(column)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(column > after)
    return (await db.execute(statement)).all()


async def customers_with_key(db: Db, kind: str, key: str) -> int:
    """How many live customers have this key."""
    column = _key_column(kind)
    statement = select(func.count()).where(column == key, customers.c.deleted_at.is_(None))
    return int((await db.execute(statement)).scalar_one())


async def group_members(
    db: Db, kind: str, keys: Collection[str], per_group: int
) -> Sequence[Row[Any, Any]]:
    """(key, id) of the oldest `per_group` live customers of each key, oldest first."""
    if not keys:
        return []
    column = _key_column(kind)
    rank = func.row_number().over(partition_by=column, order_by=customers.c.id)
    ranked = (
        select(column.label("key"), customers.c.id, rank.label("rank"))
        .where(column.in_(list(keys)), customers.c.deleted_at.is_(None))
        .subquery()
    )
    statement = (
        select(ranked.c.key, ranked.c.id)
        .where(ranked.c.rank <= per_group)
        .order_by(ranked.c.key, ranked.c.id)
    )
    return (await db.execute(statement)).all()


async def lock_pair(session: AsyncSession, ids: Collection[uuid.UUID]) -> list[Customer]:
    """Both customers of a merge, deleted or not, locked in id order.

    Two merges of the same pair in opposite directions lock in the same order and so
    wait for each other instead of deadlocking.
    """
    statement = (
        select(Customer)
        .where(customers.c.id.in_(list(ids)))
        .order_by(customers.c.id)
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars())


async def move_tickets(db: Db, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    statement = update(tickets).where(tickets.c.customer_id == from_id).values(customer_id=to_id)
    result = cast(CursorResult[Any], await db.execute(statement))
    return int(result.rowcount)


async def live_referred_ids(
    db: Db, referrer: uuid.UUID, *, excluding: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    statement = (
        select(customers.c.id)
        .where(
            customers.c.referred_by == referrer,
            customers.c.deleted_at.is_(None),
            customers.c.id.not_in(list(excluding)),
        )
        .order_by(customers.c.id)
    )
    return list((await db.execute(statement)).scalars())


async def repoint_referrals(
    db: Db,
    customer_ids: Sequence[uuid.UUID],
    referrer: uuid.UUID,
    *,
    first_position: int,
    at: dt.datetime,
) -> None:
    """Make `referrer` the referrer of these customers, each at its own feed position."""
    if not customer_ids:
        return
    statement = (
        update(customers)
        .where(customers.c.id == bindparam("moved_id"))
        .values(referred_by=referrer, change_position=bindparam("position"), updated_at=at)
    )
    await db.execute(
        statement,
        [
            {"moved_id": customer_id, "position": first_position + offset}
            for offset, customer_id in enumerate(customer_ids)
        ],
    )
