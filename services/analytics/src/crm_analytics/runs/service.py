"""Scoring runs: each syncs the copies, scores them off the event loop, stores the scores
and memberships under its own id and then moves the current-run pointer in one
transaction, so a reader sees the previous run or the new one, never a mix.

One run at a time: asking for a run while one is queued or running is a 409
(`run-in-progress`), enforced by a unique index, so it holds across replicas too. A run
left active by a process that died stops blocking after `run_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
import socket
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from crm_analytics.customer_models import service as customer_models
from crm_analytics.insights import service as insights
from crm_analytics.runs import repository
from crm_analytics.runs.errors import RunInProgress, RunNotFound
from crm_analytics.runs.lifecycle import push_lifecycle_stages
from crm_analytics.runs.models import customer_scores
from crm_analytics.scoring import pipeline
from crm_analytics.scoring.pipeline import ScoringParameters, ScoringResult, score_customers
from crm_analytics.segments import service as segments
from crm_analytics.settings import AnalyticsSettings, ScoringWorker
from crm_analytics.sync import repository as sync_repository
from crm_analytics.sync.models import DELETED, ERASED, MERGED
from crm_analytics.sync.service import sync_all
from crm_analytics.topics import service as topics_service
from crm_shared.db import Database, utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.ids import uuid7
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.analytics import FeedSync, Run, RunStatus, RunTrigger
from crm_shared.schemas.common import Page
from crm_shared.sync import Sources
from crm_shared.workers import worker_process_pool

log = logging.getLogger("crm.analytics.runs")

Score = Callable[[pd.DataFrame, ScoringParameters], ScoringResult]

# The pipeline's columns that the score table keeps.
SCORE_COLUMNS = tuple(name for name in pipeline.SCORE_COLUMNS if name in customer_scores.c)
# Merges are followed at most this far: a longer chain is a loop in the data.
MAX_MERGE_CHAIN = 50


def parameters_of(settings: AnalyticsSettings, as_of: dt.date) -> ScoringParameters:
    return ScoringParameters(
        as_of=as_of,
        clv_horizon_months=settings.clv_horizon_months,
        monthly_discount_rate=settings.monthly_discount_rate,
        value_weights=settings.value_weights,
        tier_quantiles=settings.tier_quantiles,
        active_days=settings.active_days,
        at_risk_days=settings.at_risk_days,
        churned_days=settings.churned_days,
        customer_models=settings.customer_models,
        model_horizon_days=settings.model_horizon_days,
        model_min_customers=settings.model_min_customers,
        model_training_sample=settings.model_training_sample,
        churn_thresholds=settings.churn_thresholds,
        cluster_k_range=settings.cluster_k_range,
        cluster_fit_sample=settings.cluster_fit_sample,
        cluster_silhouette_sample=settings.cluster_silhouette_sample,
    )


def _parameters_json(parameters: ScoringParameters) -> dict[str, Any]:
    values = dataclasses.asdict(parameters)
    values["as_of"] = parameters.as_of.isoformat()
    values.pop("previous_clusters")
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in values.items()
    }


def run_read(row: Row[Any], current_id: uuid.UUID | None) -> Run:
    duration = None
    if row.started_at is not None and row.finished_at is not None:
        duration = (row.finished_at - row.started_at).total_seconds()
    return Run(
        id=row.id,
        status=RunStatus(row.status),
        trigger=RunTrigger(row.trigger),
        current=row.id == current_id,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=duration,
        as_of=row.as_of,
        data_as_of=row.data_as_of,
        parameters=row.parameters,
        fit=row.fit,
        sync=[FeedSync.model_validate(feed) for feed in row.sync or []],
        lines_scored=row.lines_scored,
        customers_scored=row.customers_scored,
        memberships=row.memberships,
        lifecycle_pushed=row.lifecycle_pushed,
        lifecycle_push_failed=row.lifecycle_push_failed,
        results_kept=row.results_kept,
        error=row.error,
    )


async def read_run(database: Database, run_id: uuid.UUID) -> Run:
    async with database.engine.connect() as db:
        row = await repository.get_run(db, run_id)
        if row is None:
            raise RunNotFound(f"No run {run_id}.", run_id=str(run_id))
        return run_read(row, await repository.current_run_id(db))


async def list_runs(database: Database, limit: int, cursor: str | None) -> Page[Run]:
    after: tuple[dt.datetime, uuid.UUID] | None = None
    if cursor is not None:
        at, run_id = decode_cursor(cursor, 2)
        try:
            after = (dt.datetime.fromisoformat(str(at)), uuid.UUID(str(run_id)))
        except ValueError as error:
            raise InvalidCursor("The cursor does not belong to this list.") from error
    async with database.engine.connect() as db:
        rows = await repository.list_runs(db, after, limit)
        current_id = await repository.current_run_id(db)
    return Page[Run](
        items=[run_read(row, current_id) for row in rows[:limit]],
        next_cursor=next_cursor(
            rows, limit, lambda row: [row.requested_at.isoformat(), str(row.id)]
        ),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_rows(run_id: uuid.UUID, scores: pd.DataFrame) -> list[dict[str, Any]]:
    frame = scores.reset_index()
    columns = {name: frame[name].tolist() for name in ("customer_id", *SCORE_COLUMNS)}
    return [
        {
            "run_id": run_id,
            "customer_id": uuid.UUID(str(columns["customer_id"][i])),
            **{name: _cell(columns[name][i]) for name in SCORE_COLUMNS},
        }
        for i in range(len(frame))
    ]


class NoCopyYet(RuntimeError):
    """A source is down and was never copied: there is nothing to score it on."""


class Runner:
    """Starts runs, runs them as background tasks, and owns the scoring worker."""

    def __init__(
        self,
        database: Database,
        settings: AnalyticsSettings,
        sources: Callable[[], Sources],
    ) -> None:
        self.database = database
        self.settings = settings
        self.sources = sources
        self.score: Score = score_customers
        self.worker = socket.gethostname()[:200]
        self._executor: Executor | None = None
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def recover(self) -> None:
        """Runs this host left active when its process stopped are failed."""
        async with self.database.writer() as db:
            for row in await repository.active_runs(db):
                if row.worker == self.worker and row.id not in self._tasks:
                    await self._fail(db, row.id, "interrupted: the service stopped during the run")

    def warm_up(self) -> None:
        """Start the worker process now, so the first run does not wait for it to import
        the scoring maths; an empty scoring is all it is asked."""
        if self.settings.scoring_worker is not ScoringWorker.process:
            return
        empty = pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=object),
                "order_id": pd.Series(dtype=object),
                "placed_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "amount": pd.Series(dtype=np.float64),
                "quantity": pd.Series(dtype=np.int64),
            }
        )
        self._pool().submit(score_customers, empty, parameters_of(self.settings, utcnow().date()))

    async def request(self, trigger: RunTrigger, as_of: dt.date | None = None) -> Run:
        """Queue a run and start it in the background; `RunInProgress` if one is active."""
        run_id = uuid7()
        day = as_of or utcnow().date()
        parameters = parameters_of(self.settings, day)
        now = utcnow()
        try:
            async with self.database.writer() as db:
                for row in await repository.active_runs(db):
                    abandoned = now - row.requested_at > dt.timedelta(
                        seconds=self.settings.run_timeout_seconds
                    )
                    if abandoned and row.id not in self._tasks:
                        await self._fail(db, row.id, "abandoned: no progress within the timeout")
                    else:
                        raise RunInProgress(
                            f"Run {row.id} is {row.status}; wait for it to finish.",
                            run_id=str(row.id),
                        )
                await repository.add_run(
                    db,
                    {
                        "id": run_id,
                        "status": RunStatus.queued.value,
                        "trigger": trigger.value,
                        "worker": self.worker,
                        "requested_at": now,
                        "as_of": day,
                        "parameters": _parameters_json(parameters),
                        "sync": [],
                    },
                )
        except IntegrityError as error:
            raise RunInProgress("Another run was queued at the same moment.") from error
        self._tasks[run_id] = asyncio.create_task(self._execute(run_id, parameters))
        return await read_run(self.database, run_id)

    async def wait(self, run_id: uuid.UUID | None = None) -> None:
        """Until the given run (or every run this process started) has finished."""
        if run_id is None:
            tasks = list(self._tasks.values())
        else:
            task = self._tasks.get(run_id)
            tasks = [task] if task is not None else []
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _fail(self, db: Any, run_id: uuid.UUID, error: str) -> None:
        await repository.update_run(
            db,
            run_id,
            status=RunStatus.failed.value,
            active=None,
            finished_at=utcnow(),
            error=error,
        )

    async def _execute(self, run_id: uuid.UUID, parameters: ScoringParameters) -> None:
        try:
            await self._score_and_swap(run_id, parameters)
        except asyncio.CancelledError:
            await self._abandon(run_id, "cancelled: the service stopped during the run")
            raise
        except Exception as error:
            log.exception("scoring run failed", extra={"run_id": str(run_id)})
            await self._abandon(run_id, f"{type(error).__name__}: {error}"[:2000])
        else:
            await self._after_swap(run_id)
        finally:
            self._tasks.pop(run_id, None)

    async def _abandon(self, run_id: uuid.UUID, error: str) -> None:
        """A failed run leaves nothing behind; the current run keeps serving."""
        async with self.database.writer() as db:
            await repository.drop_results(db, [run_id])
            await self._fail(db, run_id, error)

    async def _score_and_swap(self, run_id: uuid.UUID, parameters: ScoringParameters) -> None:
        async with self.database.writer() as db:
            await repository.update_run(
                db, run_id, status=RunStatus.running.value, started_at=utcnow()
            )
        report = await sync_all(self.database, self.sources(), self.settings.sync_batch_lines)
        async with self.database.writer() as db:
            await repository.update_run(
                db,
                run_id,
                sync=[feed.model_dump(mode="json") for feed in report.feeds],
                data_as_of=report.data_as_of,
            )
        never_copied = [
            feed.feed for feed in report.feeds if not feed.ok and feed.synced_at is None
        ]
        if never_copied:
            raise NoCopyYet(
                "no complete copy yet of " + ", ".join(never_copied) + ", and the source is down"
            )
        lines = await self._lines(parameters.as_of)
        profiles: tuple[dict[str, Any], ...] = ()
        if lines.empty:
            rows: list[dict[str, Any]] = []
            fit: dict[str, Any] = {"skipped": "no purchases"}
        else:
            async with self.database.engine.connect() as db:
                previous = await customer_models.previous_clusters(db)
            parameters = dataclasses.replace(parameters, previous_clusters=previous)
            result = await self.score_lines(lines, parameters)
            rows = score_rows(run_id, result.scores)
            fit = _json_safe(result.fit)
            profiles = result.cluster_profiles
        for start in range(0, len(rows), repository.SCORE_BATCH):
            async with self.database.writer() as db:
                await repository.add_scores(db, rows[start : start + repository.SCORE_BATCH])
        async with self.database.writer() as db:
            await customer_models.store_clusters(db, run_id, _json_safe(list(profiles)))
        topics = await topics_service.compute_run(
            self.database,
            run_id,
            topics_service.parameters_of(self.settings, parameters.as_of),
            self.off_loop,
        )
        fit["topics"] = topics.fit
        fit["insights"] = await insights.build_insights(
            self.database, run_id, lines, _end_of(parameters.as_of), self.settings, self.off_loop
        )
        async with self.database.writer() as db:
            memberships = await segments.evaluate_all(db, run_id)
            await topics_service.swap_in(db, run_id, topics.reviewers, self.settings.topic_keywords)
            await repository.point_to(db, run_id)
            await repository.update_run(
                db,
                run_id,
                status=RunStatus.succeeded.value,
                active=None,
                finished_at=utcnow(),
                fit=fit,
                lines_scored=len(lines),
                customers_scored=len(rows),
                memberships=memberships,
            )
        log.info(
            "scoring run swapped in",
            extra={"run_id": str(run_id), "customers": len(rows), "lines": len(lines)},
        )

    async def _after_swap(self, run_id: uuid.UUID) -> None:
        """Retention and the lifecycle push: neither can fail the run any more."""
        try:
            async with self.database.writer() as db:
                kept = await repository.runs_with_results(db)
                await repository.drop_results(db, kept[self.settings.runs_kept :])
        except Exception:
            log.exception("pruning old runs failed", extra={"run_id": str(run_id)})
        if not self.settings.push_lifecycle:
            return
        try:
            outcome = await push_lifecycle_stages(
                self.database, self.sources().customers, run_id, self.settings.push_concurrency
            )
        except Exception:
            log.exception("lifecycle push failed", extra={"run_id": str(run_id)})
            return
        async with self.database.writer() as db:
            await repository.update_run(
                db,
                run_id,
                lifecycle_pushed=outcome.pushed,
                lifecycle_push_failed=outcome.failed,
            )

    async def _lines(self, as_of: dt.date) -> pd.DataFrame:
        """The copy's order lines up to the end of `as_of`, each attributed to the customer
        who holds it now (merges followed), without deleted and erased customers."""
        async with self.database.engine.connect() as db:
            rows = await sync_repository.scorable_lines(db, _end_of(as_of))
            statuses = await sync_repository.customer_statuses(db)
        frame = pd.DataFrame.from_records(
            rows, columns=["customer_id", "order_id", "placed_at", "amount", "quantity"]
        )
        owners = _owners(statuses)
        if owners:
            holder = frame["customer_id"].map(owners)
            frame["customer_id"] = holder.where(holder.notna(), frame["customer_id"])
            frame = frame[frame["customer_id"] != _NOBODY].reset_index(drop=True)
        frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
        frame["amount"] = frame["amount"].astype(np.float64)
        frame["quantity"] = frame["quantity"].astype(np.int64)
        return frame

    async def score_lines(
        self, lines: pd.DataFrame, parameters: ScoringParameters
    ) -> ScoringResult:
        """The scoring maths on the worker process or thread, never on the event loop."""
        result: ScoringResult = await self.off_loop(self.score, lines, parameters)
        return result

    async def off_loop(self, function: Callable[..., Any], *args: Any) -> Any:
        """The maths of a run, on its worker process or thread; a worker that broke is
        replaced at the next call."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), function, *args)
        except BrokenProcessPool:
            self._executor = None
            raise

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.settings.scoring_worker is ScoringWorker.process:
                self._executor = worker_process_pool()
            else:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring")
        return self._executor


def _end_of(as_of: dt.date) -> dt.datetime:
    """The first moment after the day `as_of` (UTC): a run sees what happened before."""
    return dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC) + dt.timedelta(days=1)


_NOBODY = ""


def _owners(statuses: Sequence[Row[Any]]) -> dict[str, str]:
    """For each customer that is not live, who holds their orders now: the survivor of a
    merge (followed through chains), or nobody (`_NOBODY`) for deleted and erased ones."""
    merged_into = {row.id: row.merged_into for row in statuses if row.status == MERGED}
    gone = {row.id for row in statuses if row.status in (DELETED, ERASED)}

    def owner(customer_id: str) -> str:
        current = customer_id
        for _ in range(MAX_MERGE_CHAIN):
            survivor = merged_into.get(current)
            if survivor is None:
                break
            current = survivor
        return _NOBODY if current in gone or current in merged_into else current

    return {row.id: owner(row.id) for row in statuses}
