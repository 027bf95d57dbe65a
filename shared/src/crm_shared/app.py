"""The service app factory: every service is built the same way around its own routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from starlette.middleware import Middleware

from crm_shared.db import Database, create_engine
from crm_shared.errors import install_error_handlers, problem_response, problem_responses
from crm_shared.logs import configure_logging
from crm_shared.middleware import Metrics, ObservabilityMiddleware, ServiceTokenMiddleware
from crm_shared.migrations import upgrade_to_head
from crm_shared.settings import ServiceSettings

# A check raises when not ready; it may return a short note that is shown as "ok: <note>".
ReadyCheck = Callable[[FastAPI], Awaitable[str | None]]
log = logging.getLogger("crm.app")


@dataclass(frozen=True)
class PeriodicJob:
    """Housekeeping a service runs in the background every `interval_seconds`."""

    name: str
    interval_seconds: float
    run: Callable[[FastAPI], Awaitable[object]]


async def _repeat(app: FastAPI, job: PeriodicJob) -> None:
    while True:
        await asyncio.sleep(job.interval_seconds)
        try:
            outcome = await job.run(app)
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})
        else:
            log.info("periodic job done", extra={"job": job.name, "outcome": outcome})


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Health(BaseModel):
    status: str
    service: str
    version: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, str]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str,
    description: str,
    routers: Sequence[APIRouter],
    migrations: Path,
    openapi_tags: list[dict[str, Any]] | None = None,
    ready_checks: dict[str, ReadyCheck] | None = None,
    lifespan: Lifespan | None = None,
    periodic_jobs: Sequence[PeriodicJob] = (),
    access_middleware: Middleware | None = None,
    inner_middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """A FastAPI app with the platform's conventions: problem+json, request ids, JSON logs,
    metrics, the service token, `/health`, `/ready`, `/metrics` and migrations on start.

    `access_middleware` guards `/v1` calls in place of the service token check, inside the
    request id and metrics middleware (the gateway's API keys). `inner_middleware` runs
    inside both, before the router: for hot paths answered without the router.
    """
    service = settings.service_name
    checks: dict[str, ReadyCheck] = {"database": _database_ready, **(ready_checks or {})}

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level)
        database = Database(
            create_engine(
                settings.resolved_database_url(),
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_overflow,
                pool_timeout=settings.db_pool_timeout_seconds,
            ),
            fast_pool_size=settings.db_pool_size,
        )
        app.state.database = database
        app.state.settings = settings
        try:
            if settings.run_migrations:
                await upgrade_to_head(database.engine, migrations, service)
            await database.start()
            jobs = [asyncio.create_task(_repeat(app, job)) for job in periodic_jobs]
            try:
                if lifespan is not None:
                    async with lifespan(app):
                        yield
                else:
                    yield
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await database.dispose()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        openapi_tags=openapi_tags,
        lifespan=app_lifespan,
    )
    install_error_handlers(app)
    metrics = app.state.metrics = Metrics(service)
    for middleware in reversed(inner_middleware):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    if access_middleware is None:
        app.add_middleware(ServiceTokenMiddleware, token=settings.service_token.get_secret_value())
    else:
        app.add_middleware(
            access_middleware.cls, *access_middleware.args, **access_middleware.kwargs
        )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)

    ops = APIRouter(tags=["operations"])

    @ops.get("/health", response_model=Health, summary="The process is alive")
    async def health() -> Health:
        return Health(status="ok", service=service, version=version)

    @ops.get(
        "/ready",
        response_model=Readiness,
        summary="Dependencies are reachable",
        responses=problem_responses(503),
    )
    async def ready(request: Request) -> Response | Readiness:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                note = await asyncio.wait_for(check(request.app), timeout=2.0)
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}"
            else:
                results[name] = f"ok: {note}" if note else "ok"
        failing = [name for name, result in results.items() if result.startswith("failing")]
        if failing:
            return problem_response(
                request,
                status=503,
                slug="not-ready",
                title="Not ready",
                detail="Failing: " + ", ".join(failing),
                checks=results,
            )
        return Readiness(status="ready", service=service, checks=results)

    @ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(ops)
    for router in routers:
        # Every API route may answer 401 (no service token) and 503 (database down).
        app.include_router(router, responses=problem_responses(401, 503))
    return app


async def _database_ready(app: FastAPI) -> None:
    database: Database = app.state.database
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def serve(app: Any, settings: ServiceSettings) -> None:
    """Serve an ASGI app with uvicorn the way every service runs in production: JSON logs
    (ours, not uvicorn's), client addresses from the proxy headers, no server header."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
