"""All SQL of the privacy domain: customers looked up whatever their state, and redaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Text, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_customer.customers.models import Customer, CustomerEvent, CustomerTag, Erasure
from crm_customer.database import idempotency
from crm_customer.tickets.models import Ticket, TicketNote
from crm_shared.db import dialect_of
from crm_shared.schemas.customers import ERASED_TEXT

customers = Customer.__table__  # type: ignore[attr-defined]
customer_tags = CustomerTag.__table__  # type: ignore[attr-defined]
events = CustomerEvent.__table__  # type: ignore[attr-defined]
erasures = Erasure.__table__  # type: ignore[attr-defined]
tickets = Ticket.__table__  # type: ignore[attr-defined]
notes = TicketNote.__table__  # type: ignore[attr-defined]
idempotency_keys = idempotency.table

Db = AsyncSession | AsyncConnection

REDACTED = ERASED_TEXT


async def get_any_row(db: Db, customer_id: uuid.UUID) -> Row[Any] | None:
    """The customer's row, deleted or not: access and erasure rights outlive a soft delete."""
    return (await db.execute(select(customers).where(customers.c.id == customer_id))).first()


async def get_any_for_update(session: AsyncSession, customer_id: uuid.UUID) -> Customer | None:
    statement = (
        select(Customer)
        .where(customers.c.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def ticket_ids(db: Db, customer_id: uuid.UUID) -> list[uuid.UUID]:
    statement = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    return list((await db.execute(statement)).scalars())


async def delete_tags(db: Db, customer_id: uuid.UUID) -> None:
    await db.execute(delete(customer_tags).where(customer_tags.c.customer_id == customer_id))


async def redact_tickets(db: Db, customer_id: uuid.UUID, now: dt.datetime) -> None:
    """Blank the free text of the customer's tickets and notes; authors are staff, kept."""
    owned = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    await db.execute(update(notes).where(notes.c.ticket_id.in_(owned)).values(body=REDACTED))
    await db.execute(
        update(tickets)
        .where(tickets.c.customer_id == customer_id)
        .values(subject=REDACTED, body=REDACTED, updated_at=now)
    )


async def delete_events(db: Db, customer_id: uuid.UUID) -> None:
    await db.execute(delete(events).where(events.c.customer_id == customer_id))


async def add_erasure(session: AsyncSession, erasure: Erasure) -> None:
    session.add(erasure)
    await session.flush()


async def get_erasure(db: Db, customer_id: uuid.UUID) -> Row[Any] | None:
    statement = select(erasures).where(erasures.c.customer_id == customer_id)
    return (await db.execute(statement)).first()


async def forget_idempotent_responses(db: Db, ids: Sequence[uuid.UUID]) -> None:
    """Drop stored answers of retried writes about any of these ids (customers, tickets).

    They are copies of responses (a created customer with their email, a ticket with its
    text), so they would keep personal data past its erasure. An answer is about an id
    when it is the answer's `id` or `customer_id`, or when the id is in the route (notes).
    Claims still in flight have no body yet and stay: only their own request may finish
    them.
    """
    if not ids:
        return
    body = idempotency_keys.c.body
    body_text: ColumnElement[str] = (
        func.convert_from(body, "UTF8") if dialect_of(db) == "postgresql" else cast(body, Text)
    )
    # Responses are compact JSON (pydantic's model_dump_json), so the pairs match exactly.
    mentions = [
        condition
        for needle in map(str, ids)
        for condition in (
            body_text.contains(f'"id":"{needle}"'),
            body_text.contains(f'"customer_id":"{needle}"'),
            idempotency_keys.c.scope.contains(needle),
        )
    ]
    await db.execute(delete(idempotency_keys).where(body.is_not(None), or_(*mentions)))
