"""Reads of the current run's scores."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from crm_analytics.database import Db
from crm_analytics.freshness import Freshness
from crm_analytics.runs import repository as runs_repository
from crm_analytics.scores import repository
from crm_analytics.segments import repository as segments_repository
from crm_analytics.segments import service as segments
from crm_shared.errors import NotFound
from crm_shared.pagination import next_cursor, uuid_after
from crm_shared.schemas.analytics import (
    CustomerScore,
    CustomerScores,
    GroupTotal,
    RfmCell,
    ScoreSummary,
    ValueTier,
)
from crm_shared.schemas.common import Page

_SCORE_FIELDS = tuple(CustomerScore.model_fields)


class ScoresNotFound(NotFound):
    slug = "scores-not-found"
    title = "The customer has no scores"


async def freshness(db: Db) -> Freshness:
    return Freshness(await runs_repository.current(db))


def _score(row: Row[Any]) -> dict[str, Any]:
    values = row._asdict()
    return {name: values[name] for name in _SCORE_FIELDS}


async def customer_scores(db: Db, fresh: Freshness, customer_id: uuid.UUID) -> CustomerScores:
    """404 for a customer without purchases, unknown, deleted or erased, or before any run."""
    row = None
    if fresh.run is not None:
        row = await repository.customer_score(db, fresh.run.id, customer_id)
    if fresh.run is None or row is None:
        raise ScoresNotFound(
            f"No scores for customer {customer_id} in the current run.",
            customer_id=str(customer_id),
        )
    member_of = await segments_repository.memberships(db, fresh.run.id, customer_id)
    return CustomerScores(
        **_score(row),
        run_id=fresh.run.id,
        as_of=fresh.run.as_of,
        segments=await segments.refs(db, member_of),
    )


async def list_scores(
    db: Db,
    fresh: Freshness,
    *,
    segment_id: str | None,
    tier: ValueTier | None,
    limit: int,
    cursor: str | None,
) -> Page[CustomerScore]:
    if segment_id is not None:
        segment_id = (await segments.definition(db, segment_id)).id
    if fresh.run is None:
        return Page[CustomerScore](items=[], next_cursor=None)
    rows = await repository.scores(
        db,
        fresh.run.id,
        segment_id=segment_id,
        tier=tier.value if tier else None,
        after=uuid_after(cursor),
        limit=limit,
    )
    return Page[CustomerScore](
        items=[CustomerScore(**_score(row)) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.customer_id)]),
    )


def _totals(rows: Any, key: str) -> list[GroupTotal]:
    return [
        GroupTotal(name=getattr(row, key), customers=row.customers, revenue=float(row.revenue))
        for row in rows
    ]


async def summary(db: Db, fresh: Freshness) -> ScoreSummary:
    run = fresh.run
    if run is None:
        return ScoreSummary(
            run_id=None,
            as_of=None,
            data_as_of=None,
            customers=0,
            revenue=0.0,
            clv=0.0,
            segments=[],
            tiers=[],
            lifecycle_stages=[],
            rfm_grid=[],
        )
    by_segment = await repository.totals_by(db, run.id, "rfm_segment")
    grid = await repository.totals_by(db, run.id, "r_score", "f_score")
    return ScoreSummary(
        run_id=run.id,
        as_of=run.as_of,
        data_as_of=run.data_as_of,
        customers=sum(row.customers for row in by_segment),
        revenue=float(sum(row.revenue for row in by_segment)),
        clv=float(sum(row.clv for row in by_segment)),
        segments=_totals(by_segment, "rfm_segment"),
        tiers=_totals(await repository.totals_by(db, run.id, "value_tier"), "value_tier"),
        lifecycle_stages=_totals(
            await repository.totals_by(db, run.id, "lifecycle_stage"), "lifecycle_stage"
        ),
        rfm_grid=[
            RfmCell(
                r_score=row.r_score,
                f_score=row.f_score,
                customers=row.customers,
                revenue=float(row.revenue),
            )
            for row in grid
        ],
    )
