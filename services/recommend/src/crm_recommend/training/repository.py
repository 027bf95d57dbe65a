"""All SQL of the model lifecycle: training runs, model versions, the active version."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_recommend.training.models import (
    FAILED,
    QUEUED,
    RUNNING,
    model_versions,
    training_runs,
)


async def create_run(db: AsyncConnection, values: dict[str, Any]) -> None:
    await db.execute(insert(training_runs).values(**values))


async def update_run(db: AsyncConnection, run_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(training_runs).where(training_runs.c.id == run_id).values(**values))


async def get_run(db: AsyncConnection, run_id: uuid.UUID) -> Row[Any] | None:
    result = await db.execute(select(training_runs).where(training_runs.c.id == run_id))
    return result.first()


async def list_runs(
    db: AsyncConnection, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
) -> Sequence[Row[Any]]:
    statement = select(training_runs)
    if after is not None:
        created_at, run_id = after
        statement = statement.where(
            or_(
                training_runs.c.created_at < created_at,
                (training_runs.c.created_at == created_at) & (training_runs.c.id < run_id),
            )
        )
    statement = statement.order_by(
        training_runs.c.created_at.desc(), training_runs.c.id.desc()
    ).limit(limit + 1)
    return (await db.execute(statement)).all()


async def fail_unfinished_runs(db: AsyncConnection, worker: str, now: dt.datetime) -> None:
    """Runs this host's stopped process left behind never finish: say so. Other hosts'
    runs are theirs to finish (replicas share the database)."""
    await db.execute(
        update(training_runs)
        .where(
            training_runs.c.status.in_((QUEUED, RUNNING)),
            or_(training_runs.c.worker == worker, training_runs.c.worker.is_(None)),
        )
        .values(status=FAILED, error="interrupted: the service stopped", finished_at=now)
    )


async def create_version(db: AsyncConnection, values: dict[str, Any]) -> int:
    result = await db.execute(
        insert(model_versions).values(**values).returning(model_versions.c.version)
    )
    return int(result.scalar_one())


async def set_directory(db: AsyncConnection, version: int, directory: str) -> None:
    await db.execute(
        update(model_versions)
        .where(model_versions.c.version == version)
        .values(directory=directory)
    )


async def get_version(db: AsyncConnection, version: int) -> Row[Any] | None:
    result = await db.execute(select(model_versions).where(model_versions.c.version == version))
    return result.first()


async def list_versions(db: AsyncConnection, limit: int, before: int | None) -> Sequence[Row[Any]]:
    statement = select(model_versions)
    if before is not None:
        statement = statement.where(model_versions.c.version < before)
    statement = statement.order_by(model_versions.c.version.desc()).limit(limit + 1)
    return (await db.execute(statement)).all()


async def newest_versions(db: AsyncConnection, count: int) -> list[int]:
    statement = (
        select(model_versions.c.version).order_by(model_versions.c.version.desc()).limit(count)
    )
    return [int(version) for version in (await db.execute(statement)).scalars()]


async def active_version(db: AsyncConnection) -> Row[Any] | None:
    result = await db.execute(select(model_versions).where(model_versions.c.active.is_(True)))
    return result.first()


async def activate(db: AsyncConnection, version: int, now: dt.datetime) -> None:
    await db.execute(
        update(model_versions)
        .where(model_versions.c.active.is_(True), model_versions.c.version != version)
        .values(active=False)
    )
    await db.execute(
        update(model_versions)
        .where(model_versions.c.version == version)
        .values(active=True, activated_at=now)
    )
