"""HTTP routes of the customers domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import Response

from crm_customer.customers import service
from crm_customer.customers.repository import CustomerFilters
from crm_customer.database import idempotency
from crm_shared.deps import DatabaseDep, ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.feed import NdjsonStream
from crm_shared.idempotency import idempotency_key_header
from crm_shared.pagination import FeedCursor, FeedLimit, PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.customers import (
    ConsentChannel,
    ConsentUpdate,
    CustomerChange,
    CustomerCreate,
    CustomerIds,
    CustomerRead,
    CustomerUpdate,
    LifecycleStage,
    TagCount,
    TagsUpdate,
    TimelineEvent,
)
from crm_shared.types import CountryCode, Email, Tag, UtcDatetime

router = APIRouter(prefix="/v1", tags=["customers"])

CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]
MAX_IDS = 200  # keeps the query string well under the server's 16 KiB request-line limit


async def customer_filters(
    ids: list[uuid.UUID] | None = Query(
        None,
        alias="id",
        max_length=MAX_IDS,
        description=f"Only these customers (repeat `id`, at most {MAX_IDS}): sibling services "
        "check many customers at once.",
    ),
    email: Email | None = Query(None, description="Exact email, case-insensitive."),
    name: str | None = Query(
        None, min_length=1, max_length=100, description="Prefix of first, last or full name."
    ),
    country: CountryCode | None = Query(None, description="ISO 3166-1 alpha-2."),
    tag: Tag | None = Query(None),
    lifecycle_stage: LifecycleStage | None = Query(None),
    created_after: UtcDatetime | None = Query(None, description="Inclusive."),
    created_before: UtcDatetime | None = Query(None, description="Exclusive."),
) -> CustomerFilters:
    return CustomerFilters(
        ids=tuple(ids) if ids else None,
        email=email,
        name=name,
        country=country,
        tag=tag,
        lifecycle_stage=lifecycle_stage.value if lifecycle_stage else None,
        created_after=created_after,
        created_before=created_before,
    )


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    responses=problem_responses(409, 422),
    summary="Create a customer",
)
async def create_customer(
    payload: CustomerCreate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope="POST /v1/customers",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.create_customer(session, payload),
    )


@router.get(
    "/customers",
    response_model=Page[CustomerRead],
    responses=problem_responses(400, 422),
    summary="List customers",
)
async def list_customers(
    db: ReaderDep,
    page: PageDep,
    filters: CustomerFilters = Depends(customer_filters),
) -> Page[CustomerRead]:
    return await service.list_customers(db, filters, limit=page.limit, cursor=page.cursor)


@router.post(
    "/customers/existing",
    response_model=CustomerIds,
    responses=problem_responses(422),
    summary="Which of these customers exist",
)
async def existing_customers(payload: CustomerIds, db: ReaderDep) -> CustomerIds:
    """Of the ids asked, those of live (not deleted) customers, in the order asked and
    each once: sibling services check many customers at once (at most 1000 a request)
    without reading their records."""
    return CustomerIds(ids=await service.existing_customers(db, payload.ids))


@router.get(
    "/customers/export",
    response_class=NdjsonStream,
    response_model=CustomerChange,
    responses={
        200: {"description": "NDJSON, one `CustomerChange` per line, in feed order."},
        **problem_responses(400, 422),
    },
    summary="Stream customers changed after a cursor",
)
async def export_customers(
    request: Request,
    cursor: FeedCursor = 0,
    limit: FeedLimit = None,
) -> NdjsonStream:
    """Updates, deletions, merges and erasures, each customer at its latest state.

    Resume with the `position` of the last line received as the next `cursor`.
    """
    stream = service.export_changes(request.app.state.database, cursor, limit)
    return NdjsonStream(stream)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    responses=problem_responses(404, 422),
    summary="Read a customer",
)
async def get_customer(customer_id: CustomerId, database: DatabaseDep) -> CustomerRead:
    return await service.read_customer(database, customer_id)


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    responses=problem_responses(404, 409, 422),
    summary="Change a customer",
)
async def update_customer(
    customer_id: CustomerId, payload: CustomerUpdate, session: SessionDep
) -> CustomerRead:
    return await service.update_customer(session, customer_id, payload)


@router.delete(
    "/customers/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
    summary="Delete a customer (soft)",
)
async def delete_customer(customer_id: CustomerId, session: SessionDep) -> None:
    """The customer disappears from reads and lists; the export feed reports the deletion."""
    await service.delete_customer(session, customer_id)


@router.post(
    "/customers/{customer_id}/tags",
    response_model=CustomerRead,
    responses=problem_responses(404, 422),
    summary="Add tags to a customer",
)
async def add_tags(
    customer_id: CustomerId, payload: TagsUpdate, session: SessionDep
) -> CustomerRead:
    return await service.add_tags(session, customer_id, payload.tags)


@router.delete(
    "/customers/{customer_id}/tags/{tag}",
    response_model=CustomerRead,
    responses=problem_responses(404, 422),
    summary="Remove a tag from a customer",
)
async def remove_tag(customer_id: CustomerId, tag: Tag, session: SessionDep) -> CustomerRead:
    return await service.remove_tag(session, customer_id, tag)


@router.put(
    "/customers/{customer_id}/consents/{channel}",
    response_model=CustomerRead,
    responses=problem_responses(404, 422),
    summary="Record marketing consent on a channel",
)
async def set_consent(
    customer_id: CustomerId, channel: ConsentChannel, payload: ConsentUpdate, session: SessionDep
) -> CustomerRead:
    """Given or withdrawn, with when and where; a statement older than the current one is
    kept in no record and changes nothing."""
    return await service.set_consent(session, customer_id, channel, payload)


@router.get(
    "/customers/{customer_id}/referrals",
    response_model=Page[CustomerRead],
    responses=problem_responses(400, 404, 422),
    summary="Customers this customer referred",
)
async def list_referrals(
    customer_id: CustomerId, db: ReaderDep, page: PageDep
) -> Page[CustomerRead]:
    return await service.list_referrals(db, customer_id, limit=page.limit, cursor=page.cursor)


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=Page[TimelineEvent],
    responses=problem_responses(400, 404, 422),
    summary="A customer's events in order",
)
async def timeline(customer_id: CustomerId, db: ReaderDep, page: PageDep) -> Page[TimelineEvent]:
    return await service.timeline(db, customer_id, limit=page.limit, cursor=page.cursor)


@router.get(
    "/tags",
    response_model=Page[TagCount],
    responses=problem_responses(400, 422),
    summary="Tags in use, with how many customers carry each",
)
async def list_tags(db: ReaderDep, page: PageDep) -> Page[TagCount]:
    return await service.list_tags(db, limit=page.limit, cursor=page.cursor)
