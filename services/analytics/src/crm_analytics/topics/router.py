"""HTTP routes of the topics domain: review keywords, rating trends, ticket groups."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from crm_analytics.freshness import fresh_responses
from crm_analytics.scores.service import freshness
from crm_analytics.topics import service
from crm_shared.deps import ReaderDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.analytics import (
    FeedbackKind,
    ProductReviewInsights,
    SegmentReviewKeywords,
    TicketGroup,
)
from crm_shared.schemas.common import Page

router = APIRouter(prefix="/v1/insights", tags=["review topics"])


@router.get(
    "/products/{product_id}/reviews",
    response_model=ProductReviewInsights,
    responses={**fresh_responses("The product's review insights"), **problem_responses(404, 422)},
    summary="Read a product's review keywords and rating trend",
)
async def product_reviews(
    product_id: Annotated[uuid.UUID, Path(description="The product's id.")],
    db: ReaderDep,
    response: Response,
) -> ProductReviewInsights:
    """The words that set the product's reviews apart from all reviews (TF-IDF), its
    ratings, and their monthly average with the trend's slope. 404
    `product-reviews-not-found` for a product nobody rated, or before the first run."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.product_reviews(db, fresh, product_id)


@router.get(
    "/segments/{segment_id}/review-keywords",
    response_model=SegmentReviewKeywords,
    responses={**fresh_responses("The segment's review keywords"), **problem_responses(404, 422)},
    summary="Read the keywords of a segment's reviews",
)
async def segment_review_keywords(
    segment_id: Annotated[
        str,
        Path(max_length=64, description="`rfm-champions`, `tier-high`, ... or a custom id."),
    ],
    db: ReaderDep,
    response: Response,
) -> SegmentReviewKeywords:
    """The words that set the reviews of the segment's members (in the current run)
    apart from all reviews. 404 `segment-not-found` for an unknown segment,
    `review-keywords-not-found` before the first run."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.segment_review_keywords(db, fresh, segment_id)


@router.get(
    "/ticket-groups",
    response_model=Page[TicketGroup],
    responses={**fresh_responses("A page of ticket groups"), **problem_responses(400, 422)},
    summary="List groups of similar complaint and feedback tickets",
)
async def ticket_groups(
    db: ReaderDep,
    page: PageDep,
    response: Response,
    kind: FeedbackKind | None = Query(None, description="Only groups of this kind of ticket."),
) -> Page[TicketGroup]:
    """Complaints and feedback of the current run grouped by what they say (TF-IDF,
    cosine similarity), largest group first, each with its keywords and its most typical
    tickets. Empty before the first run."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.ticket_groups(db, fresh, kind, page.limit, page.cursor)
