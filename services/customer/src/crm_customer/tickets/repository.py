"""All SQL of the tickets domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_customer.customers.models import Customer
from crm_customer.database import TICKET_FEED, feed_counter
from crm_customer.tickets.models import Ticket, TicketNote
from crm_shared.feed import readable, take_positions

tickets = Ticket.__table__  # type: ignore[attr-defined]
notes = TicketNote.__table__  # type: ignore[attr-defined]
customers = Customer.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class TicketFilters:
    customer_id: uuid.UUID | None = None
    status: str | None = None
    kind: str | None = None


async def lock_customer(session: AsyncSession, customer_id: uuid.UUID) -> Row[Any] | None:
    """The customer's row (live or not) under a key-share lock, or None if unknown.

    Erasure, deletion and merging hold the customer FOR UPDATE, which this lock waits
    for: a ticket can then neither be added to a customer being erased nor slip past the
    erasure's redaction. Taking it before the ticket's own lock keeps the lock order of
    erasure (customer, then tickets), so the two cannot deadlock.
    """
    statement = (
        select(customers.c.id, customers.c.deleted_at, customers.c.erased_at)
        .where(customers.c.id == customer_id)
        .with_for_update(read=True, key_share=True)
    )
    return (await session.execute(statement)).first()


async def add_ticket(session: AsyncSession, ticket: Ticket) -> None:
    session.add(ticket)
    await session.flush()


async def get_row(db: Db, ticket_id: uuid.UUID) -> Row[Any] | None:
    return (await db.execute(select(tickets).where(tickets.c.id == ticket_id))).first()


async def customer_of(db: Db, ticket_id: uuid.UUID) -> uuid.UUID | None:
    statement = select(tickets.c.customer_id).where(tickets.c.id == ticket_id)
    return (await db.execute(statement)).scalar_one_or_none()


async def get_for_update(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket | None:
    statement = select(Ticket).where(tickets.c.id == ticket_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def add_note(session: AsyncSession, note: TicketNote) -> None:
    await session.execute(insert(notes).values(**note.model_dump()))


async def notes_of(db: Db, ticket_id: uuid.UUID) -> Sequence[Row[Any]]:
    """The ticket's notes, oldest first (ids are time-ordered)."""
    statement = select(notes).where(notes.c.ticket_id == ticket_id).order_by(notes.c.id)
    return (await db.execute(statement)).all()


async def list_rows(
    db: Db, filters: TicketFilters, *, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """One page of tickets in id (creation) order; fetches `limit + 1` rows."""
    statement = select(tickets)
    if filters.customer_id is not None:
        statement = statement.where(tickets.c.customer_id == filters.customer_id)
    if filters.status is not None:
        statement = statement.where(tickets.c.status == filters.status)
    if filters.kind is not None:
        statement = statement.where(tickets.c.kind == filters.kind)
    if after is not None:
        statement = statement.where(tickets.c.id > after)
    statement = statement.order_by(tickets.c.id).limit(limit + 1)
    return (await db.execute(statement)).all()


async def customer_tickets(db: Db, customer_id: uuid.UUID) -> Sequence[Row[Any]]:
    """Every ticket of one customer, oldest first."""
    statement = select(tickets).where(tickets.c.customer_id == customer_id).order_by(tickets.c.id)
    return (await db.execute(statement)).all()


async def customer_ticket_notes(db: Db, customer_id: uuid.UUID) -> Sequence[Row[Any]]:
    """The notes of every ticket of one customer, by ticket and oldest first."""
    owned = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    statement = (
        select(notes).where(notes.c.ticket_id.in_(owned)).order_by(notes.c.ticket_id, notes.c.id)
    )
    return (await db.execute(statement)).all()


async def next_position(db: Db, count: int = 1) -> int:
    """Reserve `count` positions of the ticket feed; returns the first."""
    return await take_positions(db, feed_counter, TICKET_FEED, count)


async def lock_customer_tickets(db: Db, customer_id: uuid.UUID) -> None:
    """Lock every ticket of a customer until the transaction ends (PostgreSQL)."""
    statement = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    await db.execute(statement.order_by(tickets.c.id).with_for_update())


async def mark_customer_tickets_changed(db: Db, customer_id: uuid.UUID) -> None:
    """Move every ticket of a customer to the head of the feed, each at its own position
    (an erasure redacted them, or a merge is moving them to the survivor)."""
    statement = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    ids = list((await db.execute(statement.order_by(tickets.c.id))).scalars())
    if not ids:
        return
    first = await next_position(db, len(ids))
    await db.execute(
        update(tickets)
        .where(tickets.c.id == bindparam("ticket_id"))
        .values(change_position=bindparam("position")),
        [
            {"ticket_id": ticket_id, "position": first + offset}
            for offset, ticket_id in enumerate(ids)
        ],
    )


async def changes_after(db: Db, position: int, limit: int) -> Sequence[Row[Any]]:
    """Tickets whose latest change is after `position`, in feed order, with whether their
    customer was erased."""
    statement = (
        select(tickets, customers.c.erased_at.label("customer_erased_at"))
        .join(customers, customers.c.id == tickets.c.customer_id)
        .where(
            tickets.c.change_position > position,
            readable(db, feed_counter, TICKET_FEED, tickets.c.change_position),
        )
        .order_by(tickets.c.change_position)
        .limit(limit)
    )
    return (await db.execute(statement)).all()
