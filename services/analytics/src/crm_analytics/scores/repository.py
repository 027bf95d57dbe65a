"""All SQL of score reads: one customer, filtered lists and the summary's aggregates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, or_, select

from crm_analytics.database import Db, Rows
from crm_analytics.runs.models import customer_scores
from crm_analytics.segments.models import segment_members
from crm_analytics.sync.models import LIVE, customers

_SHOWN = or_(customers.c.status.is_(None), customers.c.status == LIVE)
_SCORED = customer_scores.outerjoin(customers, customers.c.id == customer_scores.c.customer_id)


async def customer_score(db: Db, run_id: uuid.UUID, customer_id: uuid.UUID) -> Row[Any] | None:
    statement = (
        select(customer_scores)
        .select_from(_SCORED)
        .where(
            customer_scores.c.run_id == run_id,
            customer_scores.c.customer_id == customer_id,
            _SHOWN,
        )
    )
    row: Row[Any] | None = (await db.execute(statement)).first()
    return row


async def scores(
    db: Db,
    run_id: uuid.UUID,
    *,
    segment_id: str | None,
    tier: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> Rows:
    statement = (
        select(customer_scores)
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN)
    )
    if segment_id is not None:
        statement = statement.where(
            select(segment_members.c.customer_id)
            .where(
                segment_members.c.run_id == run_id,
                segment_members.c.segment_id == segment_id,
                segment_members.c.customer_id == customer_scores.c.customer_id,
            )
            .exists()
        )
    if tier is not None:
        statement = statement.where(customer_scores.c.value_tier == tier)
    if after is not None:
        statement = statement.where(customer_scores.c.customer_id > after)
    statement = statement.order_by(customer_scores.c.customer_id).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def totals_by(db: Db, run_id: uuid.UUID, *keys: str) -> Rows:
    """Customers, revenue and lifetime value per value of the given score columns."""
    columns = [customer_scores.c[key] for key in keys]
    statement = (
        select(
            *columns,
            func.count().label("customers"),
            func.coalesce(func.sum(customer_scores.c.monetary), 0.0).label("revenue"),
            func.coalesce(func.sum(customer_scores.c.clv), 0.0).label("clv"),
        )
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN)
        .group_by(*columns)
        .order_by(*columns)
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows
