"""All SQL of runs: their records, the current-run pointer, scores and retention."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update

from crm_analytics.database import Db, Rows
from crm_analytics.insights import repository as insights_repository
from crm_analytics.runs.models import CURRENT_SLOT, current_run, customer_scores, runs
from crm_analytics.segments.models import segment_members
from crm_analytics.sync.models import LIVE, customers
from crm_shared.db import upsert

SCORE_BATCH = 2000


async def add_run(db: Db, values: dict[str, Any]) -> None:
    await db.execute(insert(runs).values(active=True, **values))


async def active_runs(db: Db) -> Rows:
    rows: Rows = (await db.execute(select(runs).where(runs.c.active.is_(True)))).all()
    return rows


async def get_run(db: Db, run_id: uuid.UUID) -> Row[Any] | None:
    row: Row[Any] | None = (await db.execute(select(runs).where(runs.c.id == run_id))).first()
    return row


async def list_runs(db: Db, after: tuple[dt.datetime, uuid.UUID] | None, limit: int) -> Rows:
    """Newest first, by (requested_at, id)."""
    statement = select(runs)
    if after is not None:
        at, run_id = after
        statement = statement.where(
            or_(runs.c.requested_at < at, and_(runs.c.requested_at == at, runs.c.id < run_id))
        )
    statement = statement.order_by(runs.c.requested_at.desc(), runs.c.id.desc()).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def update_run(db: Db, run_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(runs).where(runs.c.id == run_id).values(**values))


async def current_run_id(db: Db) -> uuid.UUID | None:
    statement = select(current_run.c.run_id).where(current_run.c.slot == CURRENT_SLOT)
    found: uuid.UUID | None = (await db.execute(statement)).scalar_one_or_none()
    return found


async def current(db: Db) -> Row[Any] | None:
    """The run every read serves, or None before the first successful run."""
    statement = select(runs).join(current_run, current_run.c.run_id == runs.c.id)
    row: Row[Any] | None = (
        await db.execute(statement.where(current_run.c.slot == CURRENT_SLOT))
    ).first()
    return row


async def point_to(db: Db, run_id: uuid.UUID) -> None:
    await upsert(db, current_run, [{"slot": CURRENT_SLOT, "run_id": run_id}], key=["slot"])


async def add_scores(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(customer_scores), list(rows))


async def drop_results(db: Db, run_ids: Sequence[uuid.UUID]) -> None:
    if not run_ids:
        return
    await db.execute(delete(segment_members).where(segment_members.c.run_id.in_(run_ids)))
    await db.execute(delete(customer_scores).where(customer_scores.c.run_id.in_(run_ids)))
    await insights_repository.drop_results(db, run_ids)
    await db.execute(update(runs).where(runs.c.id.in_(run_ids)).values(results_kept=False))


async def runs_with_results(db: Db) -> list[uuid.UUID]:
    """Successful runs whose scores are still stored, newest first."""
    statement = (
        select(runs.c.id)
        .where(runs.c.status == "succeeded", runs.c.results_kept.is_(True))
        .order_by(runs.c.finished_at.desc(), runs.c.id.desc())
    )
    return list((await db.execute(statement)).scalars())


async def lifecycle_changes(db: Db, run_id: uuid.UUID) -> Rows:
    """Live customers whose scored lifecycle stage differs from the customer service's."""
    statement = (
        select(customer_scores.c.customer_id, customer_scores.c.lifecycle_stage)
        .join(customers, customers.c.id == customer_scores.c.customer_id)
        .where(
            customer_scores.c.run_id == run_id,
            customers.c.status == LIVE,
            or_(
                customers.c.lifecycle_stage.is_(None),
                customers.c.lifecycle_stage != customer_scores.c.lifecycle_stage,
            ),
        )
        .order_by(customer_scores.c.customer_id)
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows
