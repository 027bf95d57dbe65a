"""HTTP clients of the services analytics copies from and reports back to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from crm_analytics.settings import AnalyticsSettings
from crm_shared.http import service_client


@dataclass
class Sources:
    """The customer service (feed, lifecycle updates) and the orders service (feed)."""

    customers: httpx.AsyncClient
    orders: httpx.AsyncClient


@asynccontextmanager
async def source_clients(settings: AnalyticsSettings) -> AsyncIterator[Sources]:
    token = settings.service_token.get_secret_value()
    timeout = settings.sync_timeout_seconds
    async with (
        service_client(settings.customer_url, token, timeout_seconds=timeout) as customers,
        service_client(settings.orders_url, token, timeout_seconds=timeout) as orders,
    ):
        yield Sources(customers=customers, orders=orders)


def sources_of(app: FastAPI) -> Sources:
    sources: Sources = app.state.sources
    return sources
