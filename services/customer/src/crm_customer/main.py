"""The customer service app and its process entry point."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from crm_customer.bulk.router import router as import_router
from crm_customer.customers.router import router as customers_router
from crm_customer.database import idempotency
from crm_customer.duplicates.router import router as duplicates_router
from crm_customer.privacy.router import router as gdpr_router
from crm_customer.settings import CustomerSettings
from crm_customer.tickets.router import router as tickets_router
from crm_shared.app import PeriodicJob, create_service_app

VERSION = "0.1.0"

DESCRIPTION = """
Owns the shop's customers: profiles, lifecycle stage, tags, marketing consent,
referrals, support tickets, duplicates and merges, GDPR export and erasure.
Other services read it through `GET /v1/customers/export`, a feed of changes.
"""

TAGS = [
    {"name": "customers", "description": "Profiles, tags, consent, referrals and timeline."},
    {"name": "import", "description": "Bulk import of customers from CSV or NDJSON."},
    {"name": "duplicates", "description": "Likely duplicates and merging customers."},
    {"name": "gdpr", "description": "Export and erase a customer's personal data."},
    {"name": "tickets", "description": "Support tickets: inquiries, feedback, complaints."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


async def _purge_idempotency_keys(app: FastAPI) -> int:
    settings: CustomerSettings = app.state.settings
    retention = dt.timedelta(hours=settings.idempotency_retention_hours)
    return await idempotency.purge(app.state.database.engine, retention)


def create_app(settings: CustomerSettings | None = None) -> FastAPI:
    settings = settings or CustomerSettings()
    return create_service_app(
        settings,
        title="CRM customer service",
        version=VERSION,
        description=DESCRIPTION,
        # Routers with fixed paths under /v1/customers/ come before /v1/customers/{id}.
        routers=[import_router, duplicates_router, customers_router, gdpr_router, tickets_router],
        migrations=Path(__file__).parent / "migrations",
        openapi_tags=TAGS,
        periodic_jobs=[PeriodicJob("purge idempotency keys", 3600, _purge_idempotency_keys)],
    )


def run() -> None:
    settings = CustomerSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
