"""The recommendation service app and its process entry point."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware
from threadpoolctl import threadpool_limits

from crm_recommend.serving import state as serving
from crm_recommend.serving.hot_path import RecommendationsHotPath
from crm_recommend.serving.router import router as serving_router
from crm_recommend.settings import RecommendSettings
from crm_recommend.sync import service as sync_service
from crm_recommend.sync.router import router as sync_router
from crm_recommend.training import repository as training_repository
from crm_recommend.training.router import router as training_router
from crm_recommend.training.service import Trainer, trainer_of
from crm_shared.app import PeriodicJob, create_service_app, serve
from crm_shared.schemas.recommend import TrainingRunCreate
from crm_shared.sync import source_clients

VERSION = "0.1.0"

DESCRIPTION = """
Recommends products: trains and evaluates models on its own copy of the orders feeds and
serves personalised recommendations, similar products and popular items in milliseconds,
falling back to popular items rather than ever failing a page.
"""

TAGS = [
    {"name": "recommendations", "description": "Personal, similar, popular and session lists."},
    {"name": "models", "description": "Training runs, model versions, activation and rollback."},
    {"name": "sync", "description": "The copies of the orders and customer feeds."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]

log = logging.getLogger("crm.recommend")


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[None]:
    """Clients, the trainer, and the active model loaded before the first request."""
    settings: RecommendSettings = app.state.settings
    # Serving only filters arrays; a BLAS pool per request would fight over the cores.
    threadpool_limits(limits=settings.serving_threads)
    app.state.serving = serving.empty_state()
    app.state.serving_lock = asyncio.Lock()
    app.state.sync_lock = asyncio.Lock()
    trainer = app.state.trainer = Trainer(app)
    async with app.state.database.writer() as db:
        await training_repository.fail_unfinished_runs(db, trainer.worker, dt.datetime.now(dt.UTC))
    await serving.refresh(app)
    await trainer.follow_active()
    # Everything imported and loaded so far lives as long as the process: leave it out of
    # the cyclic collector, whose full passes over it would stall requests for a while.
    gc.collect()
    gc.freeze()
    async with source_clients(
        settings.customer_url,
        settings.orders_url,
        settings.service_token.get_secret_value(),
        settings.sync_timeout_seconds,
    ) as sources:
        app.state.sources = sources
        try:
            yield
        finally:
            await trainer.close()


async def _sync(app: FastAPI) -> object:
    report = await sync_service.sync(app)
    return {"lines": sum(pull.lines for pull in report.feeds), "failed": report.failed}


async def _scheduled_training(app: FastAPI) -> object:
    trainer = trainer_of(app)
    if trainer.busy:
        return "a run is already under way"
    run = await trainer.start(TrainingRunCreate(), trigger="schedule")
    return str(run.id)


async def _follow_active_model(app: FastAPI) -> object:
    return await trainer_of(app).follow_active()


def periodic_jobs(settings: RecommendSettings) -> list[PeriodicJob]:
    jobs = []
    if settings.sync_interval_seconds > 0:
        jobs.append(PeriodicJob("sync feeds", settings.sync_interval_seconds, _sync))
    if settings.training_interval_seconds > 0:
        jobs.append(
            PeriodicJob(
                "scheduled training", settings.training_interval_seconds, _scheduled_training
            )
        )
    if settings.model_poll_seconds > 0:
        jobs.append(
            PeriodicJob("follow active model", settings.model_poll_seconds, _follow_active_model)
        )
    return jobs


def create_app(settings: RecommendSettings | None = None) -> FastAPI:
    settings = settings or RecommendSettings()
    return create_service_app(
        settings,
        title="CRM recommendation service",
        version=VERSION,
        description=DESCRIPTION,
        routers=[serving_router, training_router, sync_router],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
        lifespan=_serving,
        periodic_jobs=periodic_jobs(settings),
        inner_middleware=[Middleware(RecommendationsHotPath)],
    )


def run() -> None:
    settings = RecommendSettings()
    serve(create_app(settings), settings)
