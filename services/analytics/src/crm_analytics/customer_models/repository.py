"""All SQL of the customer models: cluster profiles per run and the forecast totals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, insert, or_, select

from crm_analytics.customer_models.models import cluster_profiles
from crm_analytics.database import Db, Rows
from crm_analytics.runs.models import customer_scores, runs
from crm_analytics.sync.models import LIVE, customers

_SHOWN = or_(customers.c.status.is_(None), customers.c.status == LIVE)
_SCORED = customer_scores.outerjoin(customers, customers.c.id == customer_scores.c.customer_id)


async def add_profiles(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(cluster_profiles), list(rows))


async def profiles(db: Db, run_id: uuid.UUID) -> Rows:
    statement = (
        select(cluster_profiles)
        .where(cluster_profiles.c.run_id == run_id)
        .order_by(cluster_profiles.c.cluster_id)
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def latest_profile(db: Db, cluster_id: int) -> Row[Any] | None:
    """The cluster's profile in the latest successful run that had it (run ids sort by
    time): a run that failed after storing its profiles never names a segment."""
    statement = (
        select(cluster_profiles)
        .join(runs, runs.c.id == cluster_profiles.c.run_id)
        .where(cluster_profiles.c.cluster_id == cluster_id, runs.c.status == "succeeded")
        .order_by(cluster_profiles.c.run_id.desc())
        .limit(1)
    )
    row: Row[Any] | None = (await db.execute(statement)).first()
    return row


async def forecast_totals(db: Db, run_id: uuid.UUID) -> Row[Any]:
    """Live customers with a forecast in the run, and the sum of their forecast spend."""
    statement = (
        select(
            func.count(customer_scores.c.forecast_spend).label("customers"),
            func.coalesce(func.sum(customer_scores.c.forecast_spend), 0.0).label("total"),
        )
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN)
    )
    row: Row[Any] = (await db.execute(statement)).one()
    return row
