"""The customer service app and its process entry point."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_customer.bulk.router import router as import_router
from crm_customer.customers.router import router as customers_router
from crm_customer.database import idempotency
from crm_customer.duplicates.router import router as duplicates_router
from crm_customer.privacy.router import router as gdpr_router
from crm_customer.settings import CustomerSettings
from crm_customer.tickets.router import router as tickets_router
from crm_shared.app import create_service_app, serve

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
        periodic_jobs=[idempotency.purge_job()],
    )


def run() -> None:
    settings = CustomerSettings()
    serve(create_app(settings), settings)
