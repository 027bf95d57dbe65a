"""HTTP routes of the tickets domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import Response

from crm_customer.database import idempotency
from crm_customer.tickets import service
from crm_customer.tickets.repository import TicketFilters
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.feed import NdjsonStream
from crm_shared.idempotency import idempotency_key_header
from crm_shared.pagination import FeedCursor, FeedLimit, PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.tickets import (
    TicketChange,
    TicketCreate,
    TicketDetail,
    TicketKind,
    TicketNote,
    TicketNoteCreate,
    TicketRead,
    TicketStatus,
    TicketUpdate,
)

router = APIRouter(prefix="/v1", tags=["tickets"])

TicketId = Annotated[uuid.UUID, Path(description="The ticket's id.")]
CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]


async def ticket_filters(
    customer_id: uuid.UUID | None = Query(None, description="Only this customer's tickets."),
    status: TicketStatus | None = Query(None),
    kind: TicketKind | None = Query(None),
) -> TicketFilters:
    return TicketFilters(
        customer_id=customer_id,
        status=status.value if status else None,
        kind=kind.value if kind else None,
    )


@router.post(
    "/tickets",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketRead,
    responses=problem_responses(409, 422),
    summary="Open a ticket for a customer",
)
async def create_ticket(
    payload: TicketCreate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """The ticket starts `open`; the customer must exist and not be deleted."""
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope="POST /v1/tickets",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.create_ticket(session, payload),
    )


@router.get(
    "/tickets",
    response_model=Page[TicketRead],
    responses=problem_responses(400, 422),
    summary="List tickets",
)
async def list_tickets(
    db: ReaderDep,
    page: PageDep,
    filters: TicketFilters = Depends(ticket_filters),
) -> Page[TicketRead]:
    """Oldest first; the filters combine."""
    return await service.list_tickets(db, filters, limit=page.limit, cursor=page.cursor)


@router.get(
    "/tickets/export",
    response_class=NdjsonStream,
    response_model=TicketChange,
    responses={
        200: {"description": "NDJSON, one `TicketChange` per line, in feed order."},
        **problem_responses(400, 422),
    },
    summary="Stream tickets changed after a cursor",
)
async def export_tickets(
    request: Request,
    cursor: FeedCursor = 0,
    limit: FeedLimit = None,
) -> NdjsonStream:
    """Every ticket at its latest state, once per change, for the services that copy them.

    Tickets of erased customers come with `redacted: true` and only the redaction marker
    as subject and body. Resume with the `position` of the last line received as the
    next `cursor`.
    """
    stream = service.export_changes(request.app.state.database, cursor, limit)
    return NdjsonStream(stream)


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketDetail,
    responses=problem_responses(404, 422),
    summary="Read a ticket with its notes",
)
async def get_ticket(ticket_id: TicketId, db: ReaderDep) -> TicketDetail:
    return await service.get_ticket(db, ticket_id)


@router.patch(
    "/tickets/{ticket_id}",
    response_model=TicketDetail,
    responses=problem_responses(404, 409, 422),
    summary="Change a ticket's status, subject or satisfaction",
)
async def update_ticket(
    ticket_id: TicketId, payload: TicketUpdate, session: SessionDep
) -> TicketDetail:
    """Status moves only along open → pending | resolved; pending → open | resolved;
    resolved → closed | open; closed → open. Reopening clears the resolution, the closing
    and the satisfaction; satisfaction is rated only on a resolved or closed ticket."""
    return await service.update_ticket(session, ticket_id, payload)


@router.post(
    "/tickets/{ticket_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketNote,
    responses=problem_responses(404, 409, 422),
    summary="Add a note to a ticket",
)
async def add_note(
    ticket_id: TicketId,
    payload: TicketNoteCreate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """Any status but closed takes notes."""
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope=f"POST /v1/tickets/{ticket_id}/notes",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.add_note(session, ticket_id, payload),
    )


@router.get(
    "/customers/{customer_id}/tickets",
    response_model=Page[TicketRead],
    responses=problem_responses(400, 404, 422),
    summary="A customer's tickets",
)
async def list_customer_tickets(
    customer_id: CustomerId,
    db: ReaderDep,
    page: PageDep,
    status: TicketStatus | None = Query(None),
) -> Page[TicketRead]:
    return await service.list_customer_tickets(
        db, customer_id, status=status, limit=page.limit, cursor=page.cursor
    )
