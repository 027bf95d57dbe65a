"""HTTP routes of the duplicates domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from crm_customer.database import idempotency
from crm_customer.duplicates import service
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.idempotency import idempotency_key_header
from crm_shared.pagination import PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.customers import DuplicateGroup, DuplicateMatch, MergeRequest, MergeResult

router = APIRouter(prefix="/v1", tags=["duplicates"])

CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]
SurvivorId = Annotated[uuid.UUID, Path(description="The customer that stays.")]


@router.get(
    "/customers/duplicates",
    response_model=Page[DuplicateGroup],
    responses=problem_responses(400, 422),
    summary="Groups of likely duplicate customers",
)
async def list_duplicates(
    db: ReaderDep,
    page: PageDep,
    match: DuplicateMatch | None = Query(
        None,
        description="Only this kind of match; all kinds (email, phone, name_address) if omitted.",
    ),
) -> Page[DuplicateGroup]:
    """Live customers sharing a canonical email, the last nine digits of a phone number, or
    a name at a postal address, grouped by match kind and key in a stable order."""
    return await service.list_duplicates(db, match, limit=page.limit, cursor=page.cursor)


@router.get(
    "/customers/{customer_id}/duplicates",
    response_model=list[DuplicateGroup],
    responses=problem_responses(404, 422),
    summary="Likely duplicates of one customer",
)
async def customer_duplicates(customer_id: CustomerId, db: ReaderDep) -> list[DuplicateGroup]:
    """One group per key the customer shares with other live customers; each group lists
    the customer too, oldest first. An empty list means no likely duplicates."""
    return await service.customer_duplicates(db, customer_id)


@router.post(
    "/customers/{survivor_id}/merge",
    response_model=MergeResult,
    responses=problem_responses(404, 409, 422),
    summary="Merge a duplicate customer into this one",
)
async def merge_customers(
    survivor_id: SurvivorId,
    payload: MergeRequest,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """The survivor keeps its own values and fills the gaps from the duplicate (the address
    only whole), takes the union of tags and the most recent consent per channel, and takes
    over the duplicate's tickets and referrals. The duplicate is deleted with `merged_into`
    set, which the export feed reports as a `merged` change.

    `dry_run` answers what the merge would do and changes nothing."""
    return await idempotency.respond(
        session,
        # A dry run changes nothing, so there is nothing to make safe to retry.
        key=None if payload.dry_run else idempotency_key,
        scope=f"POST /v1/customers/{survivor_id}/merge",
        request_body=await request.body(),
        status_code=200,
        produce=lambda: service.merge_customers(session, survivor_id, payload),
    )
