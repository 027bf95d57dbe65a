"""The orders service app and its process entry point."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_orders.catalogue.router import router as catalogue_router
from crm_orders.customers import CustomerDirectory, customer_directory
from crm_orders.database import idempotency
from crm_orders.erasure.service import sync_erasures
from crm_orders.export.router import router as export_router
from crm_orders.interactions.router import router as interactions_router
from crm_orders.orders.router import router as orders_router
from crm_orders.sales import router as sales_router
from crm_orders.settings import OrdersSettings
from crm_shared.app import PeriodicJob, create_service_app, serve
from crm_shared.sync import FeedUnavailable

VERSION = "0.1.0"

DESCRIPTION = """
Owns what customers buy and do: the product catalogue, orders with their lines, status
and refunds, and interactions (views, carts, wishlists, ratings, reviews). Analytics and
recommendations copy it through the `/v1/export/...` feeds.
"""

TAGS = [
    {"name": "catalogue", "description": "Products, prices, categories and stock."},
    {"name": "orders", "description": "Orders, their lifecycle, refunds and summaries."},
    {"name": "interactions", "description": "Views, carts, wishlists, ratings and reviews."},
    {"name": "export", "description": "Change feeds for analytics and recommendations."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


async def follow_erasures(app: FastAPI) -> object:
    """One pass over the customer feed's erasures. A customer service that cannot be read
    is logged (by the pull) and tried again on the next pass, never fatal to the loop."""
    directory: CustomerDirectory = app.state.customers
    try:
        outcome = await sync_erasures(app.state.database, directory.client)
    except FeedUnavailable as error:
        return f"customer feed unavailable, retried next pass: {error.detail}"
    return {"lines": outcome.lines, "erased": outcome.erased, "redacted": outcome.redacted}


def periodic_jobs(settings: OrdersSettings) -> list[PeriodicJob]:
    jobs = [idempotency.purge_job()]
    if settings.erasure_sync_interval_seconds > 0:
        jobs.append(
            PeriodicJob("follow erasures", settings.erasure_sync_interval_seconds, follow_erasures)
        )
    return jobs


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()
    return create_service_app(
        settings,
        title="CRM orders service",
        version=VERSION,
        description=DESCRIPTION,
        routers=[catalogue_router, sales_router, orders_router, interactions_router, export_router],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
        lifespan=customer_directory,
        periodic_jobs=periodic_jobs(settings),
    )


def run() -> None:
    settings = OrdersSettings()
    serve(create_app(settings), settings)
