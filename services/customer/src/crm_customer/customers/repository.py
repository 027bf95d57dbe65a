"""All SQL of the customers domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_customer.customers.models import Customer, CustomerEvent, CustomerTag
from crm_customer.database import CUSTOMER_FEED, TICKET_FEED, feed_counter
from crm_shared.db import Database, FastQuery
from crm_shared.feed import hold, readable, take_positions

customers = Customer.__table__  # type: ignore[attr-defined]
events = CustomerEvent.__table__  # type: ignore[attr-defined]
customer_tags = CustomerTag.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class CustomerFilters:
    ids: tuple[uuid.UUID, ...] | None = None
    email: str | None = None
    name: str | None = None
    country: str | None = None
    tag: str | None = None
    lifecycle_stage: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    referred_by: uuid.UUID | None = None


_live_customer = FastQuery(
    select(customers).where(
        customers.c.id == bindparam("customer_id"), customers.c.deleted_at.is_(None)
    )
)


async def get_live(database: Database, customer_id: uuid.UUID) -> Any | None:
    """The live customer's row: the hottest read of the API, straight on the driver."""
    return await _live_customer.one_or_none(database, customer_id=customer_id)


async def get_row(db: Db, customer_id: uuid.UUID) -> Row[Any] | None:
    """The live customer's row, inside the caller's transaction."""
    statement = select(customers).where(
        customers.c.id == customer_id, customers.c.deleted_at.is_(None)
    )
    return (await db.execute(statement)).first()


async def get_for_update(session: AsyncSession, customer_id: uuid.UUID) -> Customer | None:
    statement = (
        select(Customer)
        .where(customers.c.id == customer_id, customers.c.deleted_at.is_(None))
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def exists_live(db: Db, customer_id: uuid.UUID) -> bool:
    statement = select(customers.c.id).where(
        customers.c.id == customer_id, customers.c.deleted_at.is_(None)
    )
    return (await db.execute(statement)).first() is not None


async def find_conflicts(
    db: Db,
    *,
    email: str | None,
    external_ref: str | None,
    excluding: uuid.UUID | None = None,
) -> list[str]:
    """Which of email and external_ref another live customer already has."""
    taken: list[str] = []
    for field, value in (("email", email), ("external_ref", external_ref)):
        if value is None:
            continue
        statement = select(customers.c.id).where(
            customers.c[field] == value, customers.c.deleted_at.is_(None)
        )
        if excluding is not None:
            statement = statement.where(customers.c.id != excluding)
        if (await db.execute(statement.limit(1))).first() is not None:
            taken.append(field)
    return taken


async def referral_ancestors(db: Db, customer_id: uuid.UUID, limit: int = 10_000) -> set[uuid.UUID]:
    """The chain of referrers above a customer (the customer itself included)."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = customer_id
    while current is not None and current not in seen and len(seen) < limit:
        seen.add(current)
        statement = select(customers.c.referred_by).where(customers.c.id == current)
        current = (await db.execute(statement)).scalar_one_or_none()
    return seen


async def next_position(db: Db, count: int = 1) -> int:
    return await take_positions(db, feed_counter, CUSTOMER_FEED, count)


async def hold_feeds(session: AsyncSession) -> None:
    """Keep the customer and ticket feeds until the transaction ends: positions are then
    taken inside it and are given back if it rolls back (other writers of them wait)."""
    await hold(session, feed_counter, CUSTOMER_FEED)
    await hold(session, feed_counter, TICKET_FEED)


async def live_ids(db: Db, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that name a live (not deleted) customer."""
    if not ids:
        return set()
    statement = select(customers.c.id).where(
        customers.c.id.in_(ids), customers.c.deleted_at.is_(None)
    )
    return set((await db.execute(statement)).scalars())


async def list_rows(
    db: Db, filters: CustomerFilters, *, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """One page of live customers in id (creation) order; fetches `limit + 1` rows."""
    statement = select(customers).where(customers.c.deleted_at.is_(None))
    if filters.ids is not None:
        statement = statement.where(customers.c.id.in_(filters.ids))
    if filters.email is not None:
        statement = statement.where(customers.c.email == filters.email)
    if filters.name is not None:
        pattern = _prefix_pattern(filters.name)
        full_name = func.lower(customers.c.first_name + literal(" ") + customers.c.last_name)
        statement = statement.where(
            or_(
                func.lower(customers.c.first_name).like(pattern, escape="\\"),
                func.lower(customers.c.last_name).like(pattern, escape="\\"),
                full_name.like(pattern, escape="\\"),
            )
        )
    if filters.country is not None:
        statement = statement.where(customers.c.country == filters.country)
    if filters.lifecycle_stage is not None:
        statement = statement.where(customers.c.lifecycle_stage == filters.lifecycle_stage)
    if filters.created_after is not None:
        statement = statement.where(customers.c.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(customers.c.created_at < filters.created_before)
    if filters.referred_by is not None:
        statement = statement.where(customers.c.referred_by == filters.referred_by)
    if filters.tag is not None:
        tagged = select(customer_tags.c.customer_id).where(customer_tags.c.tag == filters.tag)
        statement = statement.where(customers.c.id.in_(tagged))
    if after is not None:
        statement = statement.where(customers.c.id > after)
    statement = statement.order_by(customers.c.id).limit(limit + 1)
    return (await db.execute(statement)).all()


def _prefix_pattern(prefix: str) -> str:
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


async def add_tags(db: Db, customer_id: uuid.UUID, tags: Sequence[str]) -> None:
    if tags:
        await db.execute(
            insert(customer_tags), [{"customer_id": customer_id, "tag": tag} for tag in tags]
        )


async def remove_tags(db: Db, customer_id: uuid.UUID, tags: Sequence[str]) -> None:
    await db.execute(
        delete(customer_tags).where(
            customer_tags.c.customer_id == customer_id, customer_tags.c.tag.in_(tags)
        )
    )


async def tag_counts(db: Db, *, after: str | None, limit: int) -> Sequence[Row[Any]]:
    live = select(customers.c.id).where(customers.c.deleted_at.is_(None))
    statement = (
        select(customer_tags.c.tag, func.count().label("customers"))
        .where(customer_tags.c.customer_id.in_(live))
        .group_by(customer_tags.c.tag)
        .order_by(customer_tags.c.tag)
        .limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(customer_tags.c.tag > after)
    return (await db.execute(statement)).all()


async def add_event(
    db: Db,
    customer_id: uuid.UUID,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
) -> None:
    event = CustomerEvent(customer_id=customer_id, kind=kind, data=data or {})
    if at is not None:
        event.at = at
    await db.execute(insert(events).values(**event.model_dump()))


async def timeline_rows(
    db: Db, customer_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """The customer's events, its creation first, in the order they happened."""
    created = select(
        customers.c.id.label("id"),
        customers.c.created_at.label("at"),
        literal("created").label("kind"),
        literal(None).label("data"),
    ).where(customers.c.id == customer_id)
    recorded = select(events.c.id, events.c.at, events.c.kind, events.c.data).where(
        events.c.customer_id == customer_id
    )
    # The first select gives the union its column types (the JSON `data` among them).
    timeline = union_all(recorded, created).subquery()
    statement = select(timeline)
    if after is not None:
        statement = statement.where(timeline.c.id > after)
    statement = statement.order_by(timeline.c.id).limit(limit + 1)
    return (await db.execute(statement)).all()


async def changes_after(db: Db, position: int, limit: int) -> Sequence[Row[Any]]:
    """Customers whose latest change is after `position`, in feed order."""
    statement = (
        select(customers)
        .where(
            customers.c.change_position > position,
            readable(db, feed_counter, CUSTOMER_FEED, customers.c.change_position),
        )
        .order_by(customers.c.change_position)
        .limit(limit)
    )
    return (await db.execute(statement)).all()


async def referred_ids(db: Db, customer_id: uuid.UUID) -> list[uuid.UUID]:
    statement = (
        select(customers.c.id)
        .where(customers.c.referred_by == customer_id)
        .order_by(customers.c.id)
    )
    return list((await db.execute(statement)).scalars())
