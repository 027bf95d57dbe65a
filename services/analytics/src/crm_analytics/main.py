"""The analytics service app and its process entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from crm_analytics.customer_models.router import router as customer_models_router
from crm_analytics.database import FEEDS, sync_cursors
from crm_analytics.insights.router import router as insights_router
from crm_analytics.runs import repository as runs_repository
from crm_analytics.runs.errors import RunInProgress
from crm_analytics.runs.router import router as runs_router
from crm_analytics.runs.service import Runner
from crm_analytics.scores.distribution import router as distribution_router
from crm_analytics.scores.router import router as scores_router
from crm_analytics.segments.router import router as segments_router
from crm_analytics.settings import AnalyticsSettings
from crm_analytics.topics.router import router as topics_router
from crm_shared.app import PeriodicJob, create_service_app, serve
from crm_shared.db import Database, utcnow
from crm_shared.errors import UpstreamUnavailable
from crm_shared.schemas.analytics import RunTrigger
from crm_shared.sync import feed_states, source_clients, sources_of

VERSION = "0.1.0"

DESCRIPTION = """
Turns orders into scores and segments: RFM, customer lifetime value, value tiers and the
segment lists marketing tools pull, computed from its own copies of the customer and
orders feeds, so it keeps answering while those services are down.

Score and segment reads carry `X-Run-Id`, `X-Data-As-Of` and `X-Data-Staleness-Seconds`:
which run answered and how old the copies it scored were.
"""

TAGS = [
    {"name": "runs", "description": "Scoring runs: sync, score, swap in."},
    {"name": "scores", "description": "Customers' scores and the dashboard summary."},
    {"name": "segments", "description": "Built-in and custom segments, members, exports."},
    {
        "name": "customer models",
        "description": "Clusters, churn risk and the spend forecast of the current run, "
        "with their quality measured on held-out data.",
    },
    {
        "name": "review topics",
        "description": "Review keywords per product and segment, rating trends, and groups "
        "of similar complaint and feedback tickets.",
    },
    {
        "name": "insights",
        "description": "Basket rules (frequently bought together) and referral influence "
        "of the current run.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


class FeedsUnavailable(UpstreamUnavailable):
    slug = "feeds-unavailable"
    title = "The source feeds are unavailable and no run has succeeded"


@asynccontextmanager
async def _analytics(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: the source clients and the runner live as long as the app."""
    settings: AnalyticsSettings = app.state.settings
    async with source_clients(
        settings.customer_url,
        settings.orders_url,
        settings.service_token.get_secret_value(),
        settings.sync_timeout_seconds,
    ) as sources:
        app.state.sources = sources
        runner = Runner(app.state.database, settings, lambda: sources_of(app))
        app.state.runner = runner
        await runner.recover()
        runner.warm_up()
        try:
            yield
        finally:
            await runner.close()


async def _feeds_ready(app: FastAPI) -> str:
    """Ready while a run has succeeded even if a source is down, saying how stale the
    copies are; not ready when a source fails and there is nothing to serve yet."""
    database: Database = app.state.database
    states = await feed_states(database, sync_cursors)
    async with database.engine.connect() as db:
        current = await runs_repository.current(db)
    now = utcnow()
    notes: list[str] = []
    failing: list[str] = []
    for feed in FEEDS:
        state = states.get(feed)
        if state is None:
            notes.append(f"{feed} not synced yet")
            continue
        staleness = state.staleness_seconds(now)
        notes.append(
            f"{feed} never complete" if staleness is None else f"{feed} {staleness:.0f}s stale"
        )
        if state.last_error:
            failing.append(feed)
    if failing and current is None:
        raise FeedsUnavailable("no successful run and failing feeds: " + ", ".join(failing))
    serving = f"serving run {current.id}" if current is not None else "no run yet"
    if failing:
        serving += "; still ready although the source of " + ", ".join(failing) + " is down"
    return serving + "; " + ", ".join(notes)


async def _scheduled_run(app: FastAPI) -> str:
    runner: Runner = app.state.runner
    try:
        run = await runner.request(RunTrigger.schedule)
    except RunInProgress:
        return "skipped: a run is in progress"
    await runner.wait(run.id)
    return f"run {run.id} done"


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    jobs = []
    if settings.run_interval_seconds > 0:
        jobs.append(PeriodicJob("scoring run", settings.run_interval_seconds, _scheduled_run))
    return create_service_app(
        settings,
        title="CRM analytics service",
        version=VERSION,
        description=DESCRIPTION,
        routers=[
            runs_router,
            scores_router,
            distribution_router,
            segments_router,
            customer_models_router,
            topics_router,
            insights_router,
        ],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
        ready_checks={"feeds": _feeds_ready},
        lifespan=_analytics,
        periodic_jobs=jobs,
    )


def run() -> None:
    settings = AnalyticsSettings()
    serve(create_app(settings), settings)
