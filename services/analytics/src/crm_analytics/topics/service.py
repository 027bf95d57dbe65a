"""Review and feedback topics: computed in each scoring run from the copies, stored for
the current run only, and read by the insights API.

A run computes product keywords, rating trends and ticket groups before its swap, under
its own id; segment keywords need the run's memberships, so they are computed from the
reviewers' term sums inside the swap's transaction, which also drops the previous run's
topics: readers see one run's topics or the next's, never a mix.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pandas as pd

from crm_analytics.database import Db
from crm_analytics.freshness import Freshness
from crm_analytics.insights.service import OffLoop
from crm_analytics.segments import service as segments
from crm_analytics.settings import AnalyticsSettings
from crm_analytics.topics import repository
from crm_analytics.topics.errors import ProductReviewsNotFound, ReviewKeywordsNotFound
from crm_analytics.topics.pipeline import (
    REVIEW_COLUMNS,
    TICKET_COLUMNS,
    ReviewerTerms,
    TopicParameters,
    TopicsResult,
    compute_topics,
    segment_keywords,
)
from crm_shared.db import Database
from crm_shared.errors import InvalidCursor
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.analytics import (
    FeedbackKind,
    ProductReviewInsights,
    RatingDirection,
    RatingMonth,
    RatingTrend,
    SegmentReviewKeywords,
    TicketGroup,
    TopicKeyword,
)
from crm_shared.schemas.common import Page

# Merges are followed at most this far: a longer chain is a loop in the data.
MAX_MERGE_CHAIN = 50
EXAMPLE_TICKETS = 3


def parameters_of(settings: AnalyticsSettings, as_of: dt.date) -> TopicParameters:
    return TopicParameters(
        as_of=as_of,
        keywords=settings.topic_keywords,
        max_terms=settings.topic_max_terms,
        trend_months=settings.topic_trend_months,
        ticket_similarity=settings.topic_ticket_similarity,
        ticket_min_group=settings.topic_ticket_min_group,
        ticket_limit=settings.topic_ticket_limit,
        examples=EXAMPLE_TICKETS,
    )


def _survivor(customer_id: str | None, merged_into: dict[str, str]) -> str | None:
    current = customer_id
    for _ in range(MAX_MERGE_CHAIN):
        if current is None or current not in merged_into:
            break
        current = merged_into[current]
    return current


async def _inputs(database: Database) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The copies as frames; a merged reviewer's reviews count for the survivor."""
    async with database.engine.connect() as db:
        reviews = pd.DataFrame.from_records(
            await repository.review_rows(db), columns=REVIEW_COLUMNS
        )
        tickets = pd.DataFrame.from_records(
            await repository.ticket_rows(db), columns=TICKET_COLUMNS
        )
        merged_into = await repository.merges(db)
    if merged_into and not reviews.empty:
        reviews["customer_id"] = [
            _survivor(customer, merged_into) for customer in reviews["customer_id"]
        ]
    return reviews, tickets


async def compute_run(
    database: Database, run_id: uuid.UUID, parameters: TopicParameters, off_loop: OffLoop
) -> TopicsResult:
    """The run's topics on the scoring worker; products and ticket groups are stored
    under the run's id (nobody reads them before the swap)."""
    reviews, tickets = await _inputs(database)
    result: TopicsResult = await off_loop(compute_topics, reviews, tickets, parameters)
    groups: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for number, group in enumerate(result.ticket_groups, start=1):
        groups.append(
            {
                "run_id": run_id,
                "group_number": number,
                "kind": group["kind"],
                "size": len(group["ticket_ids"]),
                "keywords": group["keywords"],
                "example_ticket_ids": group["ticket_ids"][: parameters.examples],
            }
        )
        members.extend(
            {"run_id": run_id, "ticket_id": uuid.UUID(ticket), "group_number": number}
            for ticket in group["ticket_ids"]
        )
    products = [
        {**row, "run_id": run_id, "product_id": uuid.UUID(row["product_id"])}
        for row in result.products
    ]
    async with database.writer() as db:
        await repository.drop_run(db, run_id)
        await repository.add_product_topics(db, products)
        await repository.add_ticket_groups(db, groups, members)
    return result


async def swap_in(
    db: Db, run_id: uuid.UUID, reviewers: ReviewerTerms | None, keywords: int
) -> None:
    """Inside the swap's transaction, after the run's memberships: its segment keywords,
    and the previous runs' topics dropped."""
    if reviewers is not None:
        rows = await repository.memberships(db, run_id)
        memberships = pd.DataFrame.from_records(rows, columns=["segment_id", "customer_id"])
        found = await asyncio.to_thread(segment_keywords, reviewers, memberships, keywords)
        await repository.add_segment_keywords(db, [{**row, "run_id": run_id} for row in found])
    await repository.drop_other_runs(db, run_id)


def _keywords(stored: Any) -> list[TopicKeyword]:
    return [TopicKeyword.model_validate(keyword) for keyword in stored or []]


async def product_reviews(db: Db, fresh: Freshness, product_id: uuid.UUID) -> ProductReviewInsights:
    row = None
    if fresh.run is not None:
        row = await repository.product_topic(db, fresh.run.id, product_id)
    if fresh.run is None or row is None:
        raise ProductReviewsNotFound(
            f"No reviews or ratings of product {product_id} in the current run.",
            product_id=str(product_id),
        )
    return ProductReviewInsights(
        product_id=product_id,
        run_id=fresh.run.id,
        as_of=fresh.run.as_of,
        reviews=row.reviews,
        ratings=row.ratings,
        average_rating=row.average_rating,
        keywords=_keywords(row.keywords),
        trend=RatingTrend(
            months=[RatingMonth.model_validate(month) for month in row.trend],
            slope_per_month=row.slope_per_month,
            direction=RatingDirection(row.direction),
        ),
    )


async def segment_review_keywords(
    db: Db, fresh: Freshness, segment_id: str
) -> SegmentReviewKeywords:
    """404 for an unknown segment or before the first run; a segment whose members wrote
    no review has no keywords."""
    await segments.definition(db, segment_id)
    if fresh.run is None:
        raise ReviewKeywordsNotFound(
            "No review keywords before the first scoring run.", segment_id=segment_id
        )
    row = await repository.segment_keyword_row(db, fresh.run.id, segment_id)
    return SegmentReviewKeywords(
        segment_id=segment_id,
        run_id=fresh.run.id,
        as_of=fresh.run.as_of,
        reviews=row.reviews if row is not None else 0,
        reviewers=row.reviewers if row is not None else 0,
        keywords=_keywords(row.keywords if row is not None else []),
    )


def _after(cursor: str | None, run_id: uuid.UUID) -> int | None:
    if cursor is None:
        return None
    cursor_run, number = decode_cursor(cursor, 2)
    if cursor_run != str(run_id) or not isinstance(number, int):
        raise InvalidCursor(
            "The cursor belongs to another run's groups; start again without a cursor."
        )
    return number


async def ticket_groups(
    db: Db, fresh: Freshness, kind: FeedbackKind | None, limit: int, cursor: str | None
) -> Page[TicketGroup]:
    """The current run's groups, largest first; an empty page before the first run."""
    if fresh.run is None:
        if cursor is not None:
            raise InvalidCursor("The cursor does not belong to this list.")
        return Page[TicketGroup](items=[], next_cursor=None)
    run_id = fresh.run.id
    rows = await repository.list_groups(
        db, run_id, kind.value if kind else None, _after(cursor, run_id), limit
    )
    return Page[TicketGroup](
        items=[
            TicketGroup(
                id=row.group_number,
                run_id=run_id,
                kind=FeedbackKind(row.kind),
                size=row.size,
                keywords=_keywords(row.keywords),
                example_ticket_ids=[uuid.UUID(ticket) for ticket in row.example_ticket_ids],
            )
            for row in rows[:limit]
        ],
        next_cursor=next_cursor(rows, limit, lambda row: [str(run_id), row.group_number]),
    )
