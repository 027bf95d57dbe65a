"""The recommendation service app and its process entry point."""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi import FastAPI

from crm_recommend.settings import RecommendSettings
from crm_shared.app import create_service_app

VERSION = "0.1.0"

DESCRIPTION = """
Recommends products: trains and evaluates models on its own copy of the orders feeds and
serves personalised recommendations, similar products and popular items in milliseconds,
falling back to popular items rather than ever failing a page.
"""

TAGS = [
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(settings: RecommendSettings | None = None) -> FastAPI:
    settings = settings or RecommendSettings()
    return create_service_app(
        settings,
        title="CRM recommendation service",
        version=VERSION,
        description=DESCRIPTION,
        routers=[],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
    )


def run() -> None:
    settings = RecommendSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
