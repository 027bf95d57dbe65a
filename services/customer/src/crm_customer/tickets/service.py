"""The logic of support tickets: their lifecycle, notes, and what each change records."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_customer.customers import repository as customers_repository
from crm_customer.customers import service as customers_service
from crm_customer.tickets import repository
from crm_customer.tickets.errors import (
    InvalidTransition,
    SatisfactionNotAllowed,
    TicketClosed,
    TicketCustomerNotFound,
    TicketErased,
    TicketNotFound,
)
from crm_customer.tickets.models import Ticket, TicketNote
from crm_customer.tickets.repository import Db, TicketFilters
from crm_shared.db import Database, utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.feed import feed_lines
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.common import Page
from crm_shared.schemas.tickets import (
    TicketChange,
    TicketCreate,
    TicketDetail,
    TicketNoteCreate,
    TicketRead,
    TicketStatus,
    TicketUpdate,
)
from crm_shared.schemas.tickets import TicketNote as TicketNoteRead

OPEN, PENDING, RESOLVED, CLOSED = (
    TicketStatus.open,
    TicketStatus.pending,
    TicketStatus.resolved,
    TicketStatus.closed,
)

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    OPEN: frozenset({PENDING, RESOLVED}),
    PENDING: frozenset({OPEN, RESOLVED}),
    RESOLVED: frozenset({CLOSED, OPEN}),
    CLOSED: frozenset({OPEN}),
}
RATEABLE = frozenset({RESOLVED, CLOSED})


def ticket_read(row: Any) -> TicketRead:
    """A ticket on the wire, from its ORM object or a plain row of the tickets table."""
    return TicketRead(
        id=row.id,
        customer_id=row.customer_id,
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        status=row.status,
        satisfaction=row.satisfaction,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
    )


def ticket_change(row: Any) -> TicketChange:
    """A ticket as a line of the export feed; `row` carries its customer's `erased_at`."""
    return TicketChange(
        **ticket_read(row).model_dump(),
        position=row.change_position,
        redacted=row.customer_erased_at is not None,
    )


def export_changes(
    database: Database, after: int, limit: int | None, page_size: int = 1000
) -> AsyncIterator[bytes]:
    """NDJSON lines of every ticket changed after `after`, oldest change first."""
    return feed_lines(database, repository.changes_after, ticket_change, after, limit, page_size)


def note_read(row: Any) -> TicketNoteRead:
    return TicketNoteRead(id=row.id, body=row.body, author=row.author, created_at=row.created_at)


def ticket_detail(row: Any, notes: Iterable[Any]) -> TicketDetail:
    return TicketDetail(**ticket_read(row).model_dump(), notes=[note_read(note) for note in notes])


async def create_ticket(session: AsyncSession, payload: TicketCreate) -> TicketRead:
    customer = await repository.lock_customer(session, payload.customer_id)
    if customer is None or customer.deleted_at is not None:
        raise TicketCustomerNotFound(
            f"No customer {payload.customer_id} to open a ticket for.",
            customer_id=str(payload.customer_id),
        )
    now = utcnow()
    ticket = Ticket(
        customer_id=payload.customer_id,
        kind=payload.kind.value,
        subject=payload.subject,
        body=payload.body,
        status=OPEN.value,
        created_at=now,
        updated_at=now,
        change_position=await repository.next_position(session),
    )
    await repository.add_ticket(session, ticket)
    await customers_repository.add_event(
        session,
        ticket.customer_id,
        "ticket_opened",
        {"ticket_id": str(ticket.id), "kind": ticket.kind, "subject": ticket.subject},
        at=now,
    )
    return ticket_read(ticket)


async def get_ticket(db: Db, ticket_id: uuid.UUID) -> TicketDetail:
    row = await repository.get_row(db, ticket_id)
    if row is None:
        raise TicketNotFound(f"No ticket {ticket_id}.")
    return ticket_detail(row, await repository.notes_of(db, ticket_id))


async def _lock_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket:
    """The ticket under a row lock, so two concurrent changes see each other's result.

    Its customer is locked first: see `repository.lock_customer` for why that order.
    """
    customer_id = await repository.customer_of(session, ticket_id)
    if customer_id is None:
        raise TicketNotFound(f"No ticket {ticket_id}.")
    customer = await repository.lock_customer(session, customer_id)
    ticket = await repository.get_for_update(session, ticket_id)
    if ticket is None:
        raise TicketNotFound(f"No ticket {ticket_id}.")
    if ticket.customer_id != customer_id:
        # A merge moved the ticket to another customer while we waited for the lock.
        customer = await repository.lock_customer(session, ticket.customer_id)
    if customer is not None and customer.erased_at is not None:
        # New free text on a redacted ticket would undo the erasure.
        raise TicketErased(f"Ticket {ticket_id} belongs to an erased customer and is frozen.")
    return ticket


def _check_transition(current: TicketStatus, target: TicketStatus) -> None:
    allowed = sorted(status.value for status in TRANSITIONS[current])
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"A ticket cannot move from {current.value} to {target.value}; "
            f"from {current.value} it can move to {', '.join(allowed)}.",
            **{"from": current.value, "to": target.value, "allowed": allowed},
        )


def _enter_status(ticket: Ticket, target: TicketStatus, now: dt.datetime) -> None:
    ticket.status = target.value
    if target is OPEN:
        # Reopening starts the ticket's resolution over: earlier outcomes no longer hold.
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.satisfaction = None
    elif target is RESOLVED:
        ticket.resolved_at = now
    elif target is CLOSED:
        ticket.closed_at = now


async def update_ticket(
    session: AsyncSession, ticket_id: uuid.UUID, payload: TicketUpdate
) -> TicketDetail:
    ticket = await _lock_ticket(session, ticket_id)
    current = TicketStatus(ticket.status)
    target = payload.status if "status" in payload.model_fields_set else None
    if target is not None:
        _check_transition(current, target)
    status_after = target or current
    if payload.satisfaction is not None and status_after not in RATEABLE:
        raise SatisfactionNotAllowed(
            f"Satisfaction is rated once a ticket is resolved or closed; this one would be "
            f"{status_after.value}.",
            ticket_status=status_after.value,
        )

    now = utcnow()
    changed = False
    if target is not None:
        _enter_status(ticket, target, now)
        await customers_repository.add_event(
            session,
            ticket.customer_id,
            "ticket_status_changed",
            {"ticket_id": str(ticket.id), "from": current.value, "to": target.value},
            at=now,
        )
        changed = True
    if payload.subject is not None and payload.subject != ticket.subject:
        ticket.subject = payload.subject
        changed = True
    if "satisfaction" in payload.model_fields_set and payload.satisfaction != ticket.satisfaction:
        ticket.satisfaction = payload.satisfaction
        changed = True
    if changed:
        ticket.updated_at = now
        ticket.change_position = await repository.next_position(session)
    await session.flush()
    return ticket_detail(ticket, await repository.notes_of(session, ticket.id))


async def add_note(
    session: AsyncSession, ticket_id: uuid.UUID, payload: TicketNoteCreate
) -> TicketNoteRead:
    """A note by staff; it counts as activity, so the ticket's updated_at moves too."""
    ticket = await _lock_ticket(session, ticket_id)
    if ticket.status == CLOSED.value:
        raise TicketClosed(f"Ticket {ticket_id} is closed; reopen it to add notes.")
    now = utcnow()
    note = TicketNote(ticket_id=ticket.id, body=payload.body, author=payload.author, created_at=now)
    await repository.add_note(session, note)
    ticket.updated_at = now
    ticket.change_position = await repository.next_position(session)
    await customers_repository.add_event(
        session, ticket.customer_id, "ticket_note_added", {"ticket_id": str(ticket.id)}, at=now
    )
    return note_read(note)


def _after(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor resumes after."""
    if cursor is None:
        return None
    key = decode_cursor(cursor, 1)[0]
    try:
        return uuid.UUID(str(key))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list.") from exc


async def list_tickets(
    db: AsyncConnection, filters: TicketFilters, *, limit: int, cursor: str | None
) -> Page[TicketRead]:
    rows = await repository.list_rows(db, filters, after=_after(cursor), limit=limit)
    return Page(
        items=[ticket_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.id)]),
    )


async def list_customer_tickets(
    db: AsyncConnection,
    customer_id: uuid.UUID,
    *,
    status: TicketStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[TicketRead]:
    await customers_service.get_customer(db, customer_id)
    filters = TicketFilters(customer_id=customer_id, status=status.value if status else None)
    return await list_tickets(db, filters, limit=limit, cursor=cursor)


async def customer_ticket_details(db: Db, customer_id: uuid.UUID) -> list[TicketDetail]:
    """Every ticket of a customer with its notes, oldest first, in two queries."""
    notes_by_ticket: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for note in await repository.customer_ticket_notes(db, customer_id):
        notes_by_ticket[note.ticket_id].append(note)
    return [
        ticket_detail(row, notes_by_ticket[row.id])
        for row in await repository.customer_tickets(db, customer_id)
    ]
