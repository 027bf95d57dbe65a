"""HTTP routes of the interactions domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from crm_orders.interactions import service
from crm_orders.settings import OrdersSettings
from crm_shared.bulk import NDJSON_MEDIA_TYPES, require_ndjson
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.interactions import (
    InteractionBatchReport,
    InteractionCreate,
    InteractionKind,
    InteractionRead,
    ReviewRead,
)

router = APIRouter(prefix="/v1", tags=["interactions"])

_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {"schema": {"$ref": "#/components/schemas/InteractionCreate"}}
            for media_type in NDJSON_MEDIA_TYPES
        },
    }
}


@router.post(
    "/interactions",
    status_code=status.HTTP_201_CREATED,
    response_model=InteractionRead,
    responses={
        200: {"model": InteractionRead, "description": "A replay: the event as first stored."},
        **problem_responses(422),
    },
    summary="Record one interaction",
)
async def record_interaction(
    payload: InteractionCreate, session: SessionDep, response: Response
) -> InteractionRead:
    """201 with the stored event; 200 with the first one when its `event_id` was seen before.

    The customer is not checked against the customer service: storefront events come
    too fast for that, and visitors have none. The product must exist.
    """
    interaction, created = await service.record_interaction(session, payload)
    if not created:
        response.status_code = status.HTTP_200_OK
    return interaction


@router.post(
    "/interactions/batch",
    response_model=InteractionBatchReport,
    responses=problem_responses(413, 415, 422),
    summary="Record a batch of interactions (NDJSON)",
    openapi_extra=_BATCH_BODY,
)
async def record_batch(request: Request, session: SessionDep) -> InteractionBatchReport:
    """One `InteractionCreate` per line, streamed; up to `ORDERS_INTERACTIONS_MAX_EVENTS`
    lines (413 beyond, and nothing is stored).

    Each line is validated on its own: invalid lines, and lines naming a product that does
    not exist, are rejected and listed with their row number; the other events are stored
    in one transaction. An event whose `event_id` is already stored, or came earlier in
    the batch, counts as a duplicate and is not stored again, so a batch can safely be sent
    again. Events without an event id are always stored. Customers are not checked.
    """
    require_ndjson(request.headers.get("content-type"))
    settings: OrdersSettings = request.app.state.settings
    return await service.ingest_batch(
        session, request.stream(), max_events=settings.interactions_max_events
    )


@router.get(
    "/customers/{customer_id}/interactions",
    response_model=Page[InteractionRead],
    responses=problem_responses(400, 422),
    summary="A customer's interactions, newest first",
)
async def customer_interactions(
    customer_id: Annotated[uuid.UUID, Path(description="The customer's id.")],
    db: ReaderDep,
    page: PageDep,
    kind: InteractionKind | None = Query(None, description="Only events of this kind."),
) -> Page[InteractionRead]:
    """An unknown customer has no interactions: the customer service is not asked."""
    return await service.customer_interactions(
        db,
        customer_id,
        kind=kind.value if kind else None,
        limit=page.limit,
        cursor=page.cursor,
    )


@router.get(
    "/products/{product_id}/reviews",
    response_model=Page[ReviewRead],
    responses=problem_responses(400, 404, 422),
    summary="A product's reviews, newest first",
)
async def product_reviews(
    product_id: Annotated[uuid.UUID, Path(description="The product's id.")],
    db: ReaderDep,
    page: PageDep,
) -> Page[ReviewRead]:
    return await service.product_reviews(db, product_id, limit=page.limit, cursor=page.cursor)
