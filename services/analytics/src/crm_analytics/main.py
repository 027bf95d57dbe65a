"""The analytics service app and its process entry point."""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi import FastAPI

from crm_analytics.settings import AnalyticsSettings
from crm_shared.app import create_service_app

VERSION = "0.1.0"

DESCRIPTION = """
Turns orders into scores and segments: RFM, customer lifetime value, value tiers and the
segment lists marketing tools pull, computed from its own copies of the customer and
orders feeds, so it keeps answering while those services are down.
"""

TAGS = [
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    return create_service_app(
        settings,
        title="CRM analytics service",
        version=VERSION,
        description=DESCRIPTION,
        routers=[],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
    )


def run() -> None:
    settings = AnalyticsSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
