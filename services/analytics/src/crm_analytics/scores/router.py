"""HTTP routes of the scores domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from crm_analytics.freshness import fresh_responses
from crm_analytics.scores import service
from crm_shared.deps import ReaderDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.analytics import CustomerScore, CustomerScores, ScoreSummary, ValueTier
from crm_shared.schemas.common import Page

router = APIRouter(prefix="/v1", tags=["scores"])


@router.get(
    "/customers/{customer_id}/scores",
    response_model=CustomerScores,
    responses={**fresh_responses("The customer's scores"), **problem_responses(404, 422)},
    summary="Read a customer's scores and segments",
)
async def get_customer_scores(
    customer_id: Annotated[uuid.UUID, Path(description="The customer's id.")],
    db: ReaderDep,
    response: Response,
) -> CustomerScores:
    """The customer's scores, value tier, lifecycle stage and segment memberships in the
    current run. 404 `scores-not-found` for a customer with no purchase, unknown, deleted
    or erased, or before the first run."""
    fresh = await service.freshness(db)
    response.headers.update(fresh.headers())
    return await service.customer_scores(db, fresh, customer_id)


@router.get(
    "/scores",
    response_model=Page[CustomerScore],
    responses={**fresh_responses("A page of scores"), **problem_responses(400, 404, 422)},
    summary="List customers' scores",
)
async def list_scores(
    db: ReaderDep,
    page: PageDep,
    response: Response,
    segment: str | None = Query(
        None, max_length=64, description="Only members of this segment (its id)."
    ),
    tier: ValueTier | None = Query(None, description="Only this value tier."),
) -> Page[CustomerScore]:
    """Scores of the current run by customer id; 404 for an unknown segment."""
    fresh = await service.freshness(db)
    response.headers.update(fresh.headers())
    return await service.list_scores(
        db, fresh, segment_id=segment, tier=tier, limit=page.limit, cursor=page.cursor
    )


@router.get(
    "/scores/summary",
    response_model=ScoreSummary,
    responses={**fresh_responses("The summary"), **problem_responses(422)},
    summary="Customers and revenue per segment, tier and RFM cell",
)
async def score_summary(db: ReaderDep, response: Response) -> ScoreSummary:
    """Counts per RFM segment, value tier and lifecycle stage, total revenue and lifetime
    value, and the RFM grid (recency score x frequency score) for the dashboard."""
    fresh = await service.freshness(db)
    response.headers.update(fresh.headers())
    return await service.summary(db, fresh)
