"""Training runs: started on request or schedule, fitted in a worker process, versioned on
disk, swapped into serving when ready. The model serving keeps answering throughout and
stays when a run fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI
from sqlalchemy import Row

from crm_recommend import artefact as artefacts
from crm_recommend.models import MODELS, build
from crm_recommend.serving import state as serving
from crm_recommend.settings import RecommendSettings
from crm_recommend.sync import repository as copies
from crm_recommend.sync.service import sync as sync_feeds
from crm_recommend.training import repository
from crm_recommend.training.errors import (
    ArtefactUnavailable,
    ModelVersionNotFound,
    TrainingRunNotFound,
    UnknownModel,
)
from crm_recommend.training.models import FAILED, QUEUED, RUNNING, SUCCEEDED
from crm_recommend.training.weights import KIND_CODES, PURCHASE, Events
from crm_recommend.training.worker import TrainingJob, evaluate_models, train
from crm_shared.db import Database
from crm_shared.schemas.recommend import (
    EvaluationCreate,
    EvaluationReport,
    ModelEvaluation,
    ModelVersion,
    TrainingRun,
    TrainingRunCreate,
    TrainingRunStatus,
)
from crm_shared.workers import worker_process_pool

log = logging.getLogger("crm.recommend.training")

ExecutorFactory = Callable[[], Executor]


def process_pool() -> Executor:
    """One spawned worker process: training never shares the serving process's CPU time
    or memory, and a crash in it only fails the run."""
    return worker_process_pool()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Trainer:
    """The service's training runs; one runs at a time, the others wait queued."""

    def __init__(self, app: FastAPI, executor_factory: ExecutorFactory = process_pool) -> None:
        self.app = app
        self.worker = socket.gethostname()[:200]
        self.executor_factory = executor_factory
        self._executor: Executor | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def settings(self) -> RecommendSettings:
        settings: RecommendSettings = self.app.state.settings
        return settings

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self.executor_factory()
        return self._executor

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def wait(self) -> None:
        """Until every started run has finished (for callers that need the result)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def start(self, request: TrainingRunCreate, trigger: str) -> TrainingRun:
        model = request.model or self.settings.default_model
        if model not in MODELS:
            raise UnknownModel(f"Unknown model {model!r}; choose from {', '.join(sorted(MODELS))}.")
        parameters = (
            request.parameters
            if request.parameters is not None
            else (
                self.settings.default_model_params if model == self.settings.default_model else {}
            )
        )
        try:
            build(model, **parameters)
        except (TypeError, ValueError) as error:
            raise UnknownModel(f"Parameters not accepted by {model!r}: {error}") from error
        run_id = uuid.uuid4()
        async with self.database.writer() as db:
            await repository.create_run(
                db,
                {
                    "id": run_id,
                    "status": QUEUED,
                    "trigger": trigger,
                    "model": model,
                    "parameters": parameters,
                    "activate": request.activate,
                    "worker": self.worker,
                    "created_at": _now(),
                },
            )
        task = asyncio.create_task(self._run(run_id, model, parameters, request.activate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self.run(run_id)

    async def evaluate(self, request: EvaluationCreate) -> EvaluationReport:
        """Every requested model on one holdout of the copy, in the training worker (after
        the run in progress, if any), with the serving model untouched."""
        models = list(dict.fromkeys(request.models or sorted(MODELS)))
        unknown = sorted(set(models) - set(MODELS))
        if unknown:
            raise UnknownModel(
                f"Unknown model(s) {', '.join(unknown)}; choose from {', '.join(sorted(MODELS))}."
            )
        async with self._lock:
            await sync_feeds(self.app)
            job = await load_job(
                self.database, self.settings, self.settings.default_model, {}, self.model_dir
            )
            future = self.executor().submit(evaluate_models, job, models)
            rows = await asyncio.wrap_future(future)
        return EvaluationReport(
            holdout=job.holdout, models=[ModelEvaluation.model_validate(row) for row in rows]
        )

    async def run(self, run_id: uuid.UUID) -> TrainingRun:
        async with self.database.engine.connect() as db:
            row = await repository.get_run(db, run_id)
        if row is None:
            raise TrainingRunNotFound(f"No training run {run_id}.")
        return run_schema(row)

    async def _run(
        self, run_id: uuid.UUID, model: str, parameters: dict[str, Any], activate: bool
    ) -> None:
        async with self._lock:
            directory = self.model_dir / f".run-{run_id.hex}"
            async with self.database.writer() as db:
                await repository.update_run(db, run_id, status=RUNNING, started_at=_now())
            timings: dict[str, float] = {}
            try:
                started = time.perf_counter()
                # Bring the copy up to date first; a source that is down leaves the copy
                # as it is, and the run trains on that.
                report = await sync_feeds(self.app)
                if report.failed:
                    log.warning("training on a stale copy", extra={"failed": report.failed})
                timings["sync_seconds"] = round(time.perf_counter() - started, 3)
                started = time.perf_counter()
                job = await load_job(self.database, self.settings, model, parameters, directory)
                timings["load_seconds"] = round(time.perf_counter() - started, 3)
                future = self.executor().submit(train, job)
                outcome = await asyncio.wrap_future(future)
                timings.update(outcome.timings)
                version = await self._store(run_id, model, parameters, directory, outcome)
                if activate:
                    started = time.perf_counter()
                    await self.activate(version)
                    timings["swap_seconds"] = round(time.perf_counter() - started, 3)
                async with self.database.writer() as db:
                    await repository.update_run(
                        db,
                        run_id,
                        status=SUCCEEDED,
                        version=version,
                        metrics=outcome.metrics,
                        data=outcome.data,
                        timings=timings,
                        finished_at=_now(),
                    )
                await self._prune()
            except asyncio.CancelledError:
                await self._fail(run_id, "cancelled: the service stopped", timings)
                raise
            except Exception as error:
                log.exception("training run failed", extra={"run_id": str(run_id)})
                if isinstance(error, BrokenProcessPool):
                    self._executor = None
                await self._fail(run_id, f"{type(error).__name__}: {error}", timings)
            finally:
                shutil.rmtree(directory, ignore_errors=True)

    async def _fail(self, run_id: uuid.UUID, error: str, timings: dict[str, float]) -> None:
        async with self.database.writer() as db:
            await repository.update_run(
                db, run_id, status=FAILED, error=error[:2000], timings=timings, finished_at=_now()
            )

    @property
    def model_dir(self) -> Path:
        return self.settings.resolved_model_dir()

    async def _store(
        self,
        run_id: uuid.UUID,
        model: str,
        parameters: dict[str, Any],
        directory: Path,
        outcome: Any,
    ) -> int:
        """Give the files a version number and move them where that version lives."""
        async with self.database.writer() as db:
            version = await repository.create_version(
                db,
                {
                    "run_id": run_id,
                    "model": model,
                    "parameters": parameters,
                    "metrics": outcome.metrics,
                    "data": outcome.data,
                    "directory": "",
                    "created_at": _now(),
                    "active": False,
                },
            )
            target = artefacts.version_directory(self.model_dir, version)
            await asyncio.to_thread(_move, directory, target)
            await repository.set_directory(db, version, target.name)
        return version

    async def activate(self, version: int) -> ModelVersion:
        """Serve `version`: load it fully, swap it in, then record it as the active one."""
        async with self.database.engine.connect() as db:
            row = await repository.get_version(db, version)
        if row is None:
            raise ModelVersionNotFound(f"No model version {version}.")
        directory = self.model_dir / row.directory
        try:
            await serving.swap(self.app, version, directory)
        except (OSError, ValueError, KeyError) as error:
            raise ArtefactUnavailable(
                f"Model version {version} cannot be loaded from {directory}: {error}"
            ) from error
        async with self.database.writer() as db:
            await repository.activate(db, version, _now())
            row = await repository.get_version(db, version)
        if row is None:
            raise ModelVersionNotFound(f"No model version {version}.")
        return self.version_schema(row)

    async def follow_active(self) -> int | None:
        """Load the version recorded as active if this replica serves another one."""
        async with self.database.engine.connect() as db:
            row = await repository.active_version(db)
        if row is None or row.version == serving.current(self.app).version:
            return None
        try:
            await serving.swap(self.app, row.version, self.model_dir / row.directory)
        except (OSError, ValueError, KeyError):
            log.exception("active model version cannot be loaded", extra={"version": row.version})
            return None
        return int(row.version)

    async def _prune(self) -> None:
        async with self.database.engine.connect() as db:
            keep = await repository.newest_versions(db, self.settings.keep_versions)
            active = await repository.active_version(db)
        if active is not None:
            keep.append(int(active.version))
        current = serving.current(self.app).version
        if current is not None:
            keep.append(current)
        await asyncio.to_thread(artefacts.remove_versions, self.model_dir, keep)

    def version_schema(self, row: Row[Any]) -> ModelVersion:
        return ModelVersion(
            version=row.version,
            run_id=row.run_id,
            model=row.model,
            parameters=row.parameters,
            metrics=row.metrics,
            data=row.data,
            created_at=row.created_at,
            active=row.active,
            activated_at=row.activated_at,
            loaded=row.version == serving.current(self.app).version,
        )

    async def versions(self, limit: int, before: int | None) -> Sequence[Row[Any]]:
        async with self.database.engine.connect() as db:
            return await repository.list_versions(db, limit, before)


def _move(directory: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    directory.rename(target)


def run_schema(row: Row[Any]) -> TrainingRun:
    return TrainingRun(
        id=row.id,
        status=TrainingRunStatus(row.status),
        trigger=row.trigger,
        model=row.model,
        parameters=row.parameters,
        activate=row.activate,
        version=row.version,
        metrics=row.metrics,
        data=row.data,
        timings=row.timings,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def trainer_of(app: FastAPI) -> Trainer:
    trainer: Trainer = app.state.trainer
    return trainer


async def load_job(
    database: Database,
    settings: RecommendSettings,
    model: str,
    parameters: dict[str, Any],
    directory: Path,
) -> TrainingJob:
    """Read the copies and turn them into the arrays the worker trains on."""
    async with database.engine.connect() as db:
        catalogue = await copies.catalogue_rows(db)
        interactions = await copies.interaction_rows(db)
        purchases = await copies.purchase_rows(db)
        position = await copies.last_order_line_position(db)
    return await asyncio.to_thread(
        _job,
        settings,
        model,
        parameters,
        directory,
        catalogue,
        interactions,
        purchases,
        position,
    )


def _job(
    settings: RecommendSettings,
    model: str,
    parameters: dict[str, Any],
    directory: Path,
    catalogue: Sequence[Row[Any]],
    interactions: Sequence[Row[Any]],
    purchases: Sequence[Row[Any]],
    order_line_position: int,
) -> TrainingJob:
    products = [str(row.id) for row in catalogue]
    item_of = {product: item for item, product in enumerate(products)}
    customers: list[str] = []
    row_of: dict[str, int] = {}
    users: list[int] = []
    items: list[int] = []
    kinds: list[int] = []
    ratings: list[float] = []
    times: list[float] = []

    def add(customer: Any, product: Any, kind: int, rating: float, at: dt.datetime) -> None:
        item = item_of.get(str(product))
        if item is None:
            return
        key = str(customer)
        row = row_of.get(key)
        if row is None:
            row = row_of[key] = len(customers)
            customers.append(key)
        users.append(row)
        items.append(item)
        kinds.append(kind)
        ratings.append(rating)
        times.append(at.timestamp())

    for line in purchases:
        add(line.customer_id, line.product_id, PURCHASE, np.nan, line.placed_at)
    for event in interactions:
        code = KIND_CODES.get(event.kind)
        if code is not None:
            rating = float(event.rating) if event.rating is not None else np.nan
            add(event.customer_id, event.product_id, code, rating, event.occurred_at)
    events = Events(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        kinds=np.asarray(kinds, dtype=np.int8),
        ratings=np.asarray(ratings, dtype=np.float32),
        times=np.asarray(times, dtype=np.float64),
        n_users=len(customers),
        n_items=len(products),
    )
    text = [
        " ".join(part for part in (row.name, row.category_path, row.brand, row.description) if part)
        for row in catalogue
    ]
    return TrainingJob(
        model=model,
        parameters=parameters,
        events=events,
        customers=customers,
        products=products,
        item_text=text,
        item_category=[row.category_path for row in catalogue],
        weights=settings.event_weights(),
        directory=directory,
        manifest={
            "model": model,
            "parameters": parameters,
            "order_line_position": order_line_position,
            "created_at": _now().isoformat(),
        },
        half_life_days=settings.decay_half_life_days,
        holdout=settings.evaluation_holdout,
        k=settings.evaluation_k,
        candidates=settings.candidates_per_customer,
        similar=settings.similar_per_product,
        exclude_bought=settings.exclude_bought,
        min_interactions=settings.min_interactions,
        threads=settings.training_threads,
    )
