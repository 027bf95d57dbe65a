"""The gateway app and its process entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from crm_gateway.customer360.router import router as customer360_router
from crm_gateway.dashboard.router import router as dashboard_router
from crm_gateway.edge import EdgeMiddleware, FastLane
from crm_gateway.keys.router import router as keys_router
from crm_gateway.keys.service import KeyRing
from crm_gateway.limits import RateLimiter
from crm_gateway.openapi import ApiDocument, install_docs
from crm_gateway.runtime import Runtime
from crm_gateway.settings import GatewaySettings
from crm_gateway.upstreams.client import Upstreams
from crm_shared.app import ReadyCheck, create_service_app, serve

VERSION = "0.1.0"

DESCRIPTION = """
The one public entry of the CRM platform. Every `/v1` call carries an API key
(`Authorization: Bearer <key>` or `X-API-Key`); the key's role decides what it may call
(each operation names its scope in `x-required-scope`). Calls are passed on to the
service that owns them, with rate limits per key, timeouts, retries of idempotent calls
and a circuit breaker per service.
"""

TAGS = [
    {"name": "keys", "description": "API keys: create, list and revoke (admin keys only)."},
    {"name": "customer 360", "description": "A customer as every service knows them."},
    {
        "name": "dashboard",
        "description": "The marketing dashboard's session (pages at /dashboard/).",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]

CORS_HEADERS = ["authorization", "x-api-key", "content-type", "idempotency-key", "x-request-id"]
CORS_EXPOSED = ["x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]


def _upstream_ready(name: str) -> ReadyCheck:
    async def check(app: FastAPI) -> None:
        runtime: Runtime = app.state.runtime
        upstream = runtime.upstreams.get(name)
        if upstream is None:
            raise LookupError(f"{name} is not configured")
        await upstream.check_ready()

    return check


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bootstrap = settings.bootstrap_admin_key
        upstreams = Upstreams(settings)
        runtime = Runtime(
            settings=settings,
            key_ring=KeyRing(
                app.state.database,
                ttl_seconds=settings.key_cache_seconds,
                bootstrap_admin_key=bootstrap.get_secret_value() if bootstrap else None,
            ),
            limiter=RateLimiter(settings),
            upstreams=upstreams,
        )
        app.state.runtime = runtime
        app.state.api_document = ApiDocument(app, runtime)
        try:
            yield
        finally:
            upstreams.close()

    app = create_service_app(
        settings,
        title="CRM platform API",
        version=VERSION,
        description=DESCRIPTION,
        routers=[keys_router, customer360_router, dashboard_router],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
        ready_checks={name: _upstream_ready(name) for name in settings.required()},
        lifespan=lifespan,
        access_middleware=Middleware(EdgeMiddleware),
    )
    if origins := settings.allowed_origins():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            max_age=600,
        )
    install_docs(app)
    return app


def run() -> None:
    settings = GatewaySettings()
    serve(FastLane(create_app(settings)), settings)
