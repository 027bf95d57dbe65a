"""Histograms of a score over the current run's customers, counted in the database."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import ColumnElement, Integer, case, cast, func, select

from crm_analytics.database import Db
from crm_analytics.freshness import fresh_responses
from crm_analytics.runs.models import customer_scores
from crm_analytics.scores import service
from crm_analytics.scores.repository import _SCORED, _SHOWN
from crm_shared.db import dialect_of
from crm_shared.deps import ReaderDep
from crm_shared.errors import Unprocessable, problem_responses
from crm_shared.schemas.analytics import DistributionBin, ScoreDistribution, ScoreMeasure

MAX_BINS = 200

router = APIRouter(prefix="/v1", tags=["scores"])


class InvalidRange(Unprocessable):
    slug = "invalid-range"
    title = "The histogram's range is empty"


async def _extent(db: Db, run_id: uuid.UUID, value: ColumnElement[Any]) -> Any:
    statement = (
        select(
            func.count(value).label("customers"),
            (func.count() - func.count(value)).label("missing"),
            func.min(value).label("minimum"),
            func.max(value).label("maximum"),
            func.avg(value).label("mean"),
        )
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN)
    )
    return (await db.execute(statement)).one()


async def _counts(
    db: Db,
    run_id: uuid.UUID,
    value: ColumnElement[Any],
    lower: float,
    upper: float,
    bins: int,
) -> dict[int, int]:
    """Customers per bin index; the upper bound falls in the last bin."""
    width = (upper - lower) / bins
    offset = (value - lower) / width
    # PostgreSQL rounds a cast to integer, SQLite truncates: both floor non-negative values.
    floored = func.floor(offset) if dialect_of(db) == "postgresql" else offset
    index = case((value >= upper, bins - 1), else_=cast(floored, Integer)).label("bin")
    statement = (
        select(index, func.count().label("customers"))
        .select_from(_SCORED)
        .where(
            customer_scores.c.run_id == run_id,
            _SHOWN,
            value >= lower,
            value <= upper,
        )
        .group_by(index)
    )
    counts: dict[int, int] = {}
    for row in (await db.execute(statement)).all():
        # A value a rounding step below `upper` may land one past the last bin.
        slot = min(int(row.bin), bins - 1)
        counts[slot] = counts.get(slot, 0) + int(row.customers)
    return counts


async def _above(db: Db, run_id: uuid.UUID, value: ColumnElement[Any], upper: float) -> int:
    statement = (
        select(func.count())
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN, value > upper)
    )
    return int((await db.execute(statement)).scalar_one())


async def distribution(
    db: Db, run_id: uuid.UUID | None, measure: ScoreMeasure, bins: int, upper: float | None
) -> ScoreDistribution:
    empty = ScoreDistribution(
        measure=measure,
        run_id=run_id,
        customers=0,
        missing=0,
        minimum=None,
        maximum=None,
        mean=None,
        upper=upper,
        above=0,
        bins=[],
    )
    if run_id is None:
        return empty
    value = customer_scores.c[measure.value]
    extent = await _extent(db, run_id, value)
    if not extent.customers:
        return empty.model_copy(update={"missing": int(extent.missing)})
    lower, maximum = float(extent.minimum), float(extent.maximum)
    top = maximum if upper is None else upper
    if top < lower:
        raise InvalidRange(
            f"upper ({top}) is below the smallest {measure.value} ({lower}).",
            minimum=lower,
        )
    if top == lower:  # one value only: one bin around it
        top = lower + 1.0
    counts = await _counts(db, run_id, value, lower, top, bins)
    width = (top - lower) / bins
    return ScoreDistribution(
        measure=measure,
        run_id=run_id,
        customers=int(extent.customers),
        missing=int(extent.missing),
        minimum=lower,
        maximum=maximum,
        mean=float(extent.mean),
        upper=upper,
        above=await _above(db, run_id, value, upper) if upper is not None else 0,
        bins=[
            DistributionBin(
                lower=lower + index * width,
                upper=top if index == bins - 1 else lower + (index + 1) * width,
                customers=counts.get(index, 0),
            )
            for index in range(bins)
        ],
    )


@router.get(
    "/scores/distribution",
    response_model=ScoreDistribution,
    responses={**fresh_responses("The histogram"), **problem_responses(422)},
    summary="Histogram of a score over the customers",
)
async def score_distribution(
    db: ReaderDep,
    response: Response,
    measure: ScoreMeasure = Query(ScoreMeasure.clv, description="The score to count."),
    bins: Annotated[int, Query(ge=1, le=MAX_BINS, description="Equal-width bins.")] = 20,
    upper: Annotated[
        float | None,
        Query(
            allow_inf_nan=False,
            description="Right end of the bins (default: the largest value); customers "
            "beyond it are counted in `above`, so a long tail does not flatten the rest.",
        ),
    ] = None,
) -> ScoreDistribution:
    """Equal-width bins from the smallest value of the measure in the current run to
    `upper`, counted in the database (two aggregate queries, whatever the number of
    customers). Customers whose measure is null (no lifetime-value fit) are counted in
    `missing`. 422 `invalid-range` when `upper` is below the smallest value."""
    fresh = await service.freshness(db)
    response.headers.update(fresh.headers())
    return await distribution(db, fresh.run.id if fresh.run else None, measure, bins, upper)
