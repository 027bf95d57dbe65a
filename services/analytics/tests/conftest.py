"""Fixtures of the analytics service suite: every test runs on SQLite and on PostgreSQL.

The sources are the real customer and orders apps, each on a SQLite database of its own,
reached over `httpx.ASGITransport`: data goes in through their APIs and comes out of
their export feeds exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from crm_analytics.main import create_app
from crm_analytics.models import metadata
from crm_analytics.runs.service import Runner
from crm_analytics.settings import AnalyticsSettings, ScoringWorker
from crm_customer.main import create_app as create_customer_app
from crm_customer.models import metadata as customer_metadata
from crm_customer.settings import CustomerSettings
from crm_orders.customers import CustomerDirectory
from crm_orders.main import create_app as create_orders_app
from crm_orders.models import metadata as orders_metadata
from crm_orders.settings import OrdersSettings
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures
from crm_shared.sync import Sources
from crm_shared.testing import TEST_SERVICE_TOKEN, client_for, empty_tables, running_app, sqlite_url

SPEC = ServiceSpec("analytics", create_app, AnalyticsSettings, metadata)
globals().update(service_fixtures(SPEC))

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()


@pytest.fixture(scope="session")
def settings(database_url: str) -> AnalyticsSettings:
    """Scoring on a worker thread (a process start per session buys the tests nothing)
    and no schedule: runs start when a test asks."""
    return AnalyticsSettings(
        database_url=database_url,
        service_token=SecretStr(TEST_SERVICE_TOKEN),
        scoring_worker=ScoringWorker.thread,
        run_interval_seconds=0,
        sync_batch_lines=7,
    )


@dataclass
class SourceApps:
    customer: FastAPI
    orders: FastAPI


@pytest.fixture(scope="session")
async def source_apps(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SourceApps]:
    directory = tmp_path_factory.mktemp("sources")
    token = SecretStr(TEST_SERVICE_TOKEN)
    customer = create_customer_app(
        CustomerSettings(database_url=sqlite_url(directory, "customer"), service_token=token)
    )
    orders = create_orders_app(
        OrdersSettings(database_url=sqlite_url(directory, "orders"), service_token=token)
    )
    async with running_app(customer), running_app(orders), client_for(customer) as directory_http:
        # The orders service checks customers with the customer service, here in-process.
        orders.state.customers = CustomerDirectory(directory_http, cache_seconds=0)
        yield SourceApps(customer, orders)


class Shop:
    """Customers and orders, put in through the source services' APIs."""

    def __init__(self, customers: httpx.AsyncClient, orders: httpx.AsyncClient) -> None:
        self.customers = customers
        self.orders = orders
        self._serial = itertools.count(1)
        self._product: dict[str, Any] | None = None

    async def customer(self, *, consent_email: bool = True, **fields: Any) -> str:
        number = next(self._serial)
        payload: dict[str, Any] = {
            "email": f"customer{number}-{uuid.uuid4().hex[:6]}@example.com",
            "first_name": f"Customer{number}",
            "consents": [{"channel": "email", "granted": consent_email, "source": "checkout"}],
            **fields,
        }
        response = await self.customers.post("/v1/customers", json=payload)
        assert response.status_code == 201, response.text
        customer_id: str = response.json()["id"]
        return customer_id

    async def product(self) -> dict[str, Any]:
        if self._product is None:
            response = await self.orders.post(
                "/v1/products",
                json={"sku": "MUG", "name": "Mug", "price": "10.00", "currency": "EUR"},
            )
            assert response.status_code == 201, response.text
            self._product = response.json()
        return self._product

    async def order(
        self,
        customer_id: str,
        *,
        days_ago: float,
        amount: str = "10.00",
        quantity: int = 1,
        paid: bool = True,
    ) -> dict[str, Any]:
        product = await self.product()
        payload = {
            "customer_id": customer_id,
            "channel": "web",
            "currency": "EUR",
            "placed_at": (NOW - dt.timedelta(days=days_ago)).isoformat(),
            "lines": [
                {
                    "product_id": product["id"],
                    "quantity": quantity,
                    "unit_price": str(Decimal(amount) / quantity),
                }
            ],
        }
        response = await self.orders.post("/v1/orders", json=payload)
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        if paid:
            await self.set_status(order["id"], "paid")
        return order

    async def set_status(self, order_id: str, status: str) -> None:
        response = await self.orders.post(f"/v1/orders/{order_id}/status", json={"status": status})
        assert response.status_code == 200, response.text

    async def refund(self, order: dict[str, Any], quantity: int, amount: str | None = None) -> None:
        line: dict[str, Any] = {"order_line_id": order["lines"][0]["id"], "quantity": quantity}
        if amount is not None:
            line["amount"] = amount
        response = await self.orders.post(
            f"/v1/orders/{order['id']}/refunds", json={"lines": [line]}
        )
        assert response.status_code == 201, response.text

    async def update(self, customer_id: str, **fields: Any) -> None:
        response = await self.customers.patch(f"/v1/customers/{customer_id}", json=fields)
        assert response.status_code == 200, response.text

    async def consent(self, customer_id: str, channel: str, granted: bool) -> None:
        response = await self.customers.put(
            f"/v1/customers/{customer_id}/consents/{channel}",
            json={"granted": granted, "source": "preferences"},
        )
        assert response.status_code == 200, response.text

    async def erase(self, customer_id: str) -> None:
        response = await self.customers.post(
            f"/v1/customers/{customer_id}/erase",
            json={"reason": "GDPR art. 17", "requested_by": "dpo"},
        )
        assert response.status_code == 200, response.text

    async def delete(self, customer_id: str) -> None:
        response = await self.customers.delete(f"/v1/customers/{customer_id}")
        assert response.status_code == 204, response.text

    async def merge(self, survivor_id: str, duplicate_id: str) -> None:
        response = await self.customers.post(
            f"/v1/customers/{survivor_id}/merge", json={"duplicate_id": duplicate_id}
        )
        assert response.status_code == 200, response.text

    async def stage(self, customer_id: str) -> str:
        response = await self.customers.get(f"/v1/customers/{customer_id}")
        assert response.status_code == 200, response.text
        stage: str = response.json()["lifecycle_stage"]
        return stage


@pytest.fixture
async def shop(app: FastAPI, database: object, source_apps: SourceApps) -> AsyncIterator[Shop]:
    """Empty source services, wired to the analytics app as its sources."""
    await empty_tables(source_apps.customer.state.database, customer_metadata)
    await empty_tables(source_apps.orders.state.database, orders_metadata)
    original: Sources = app.state.sources
    async with (
        client_for(source_apps.customer) as customers,
        client_for(source_apps.orders) as orders,
    ):
        app.state.sources = Sources(customers=customers, orders=orders)
        try:
            yield Shop(customers, orders)
        finally:
            app.state.sources = original


def failing_client() -> httpx.AsyncClient:
    """A source that is down: every request fails to connect."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://down.test")


class Scoring:
    """Scoring runs started over the API and awaited through the runner."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def start(self, **payload: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/runs", json=payload or None)
        assert response.status_code == 202, response.text
        run: dict[str, Any] = response.json()
        return run

    async def finish(self, run_id: str) -> dict[str, Any]:
        runner: Runner = self.app.state.runner
        await runner.wait(uuid.UUID(run_id))
        response = await self.client.get(f"/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        return run

    async def run(self, **payload: Any) -> dict[str, Any]:
        """A run that must succeed."""
        run = await self.finish((await self.start(**payload))["id"])
        assert run["status"] == "succeeded", run
        return run


@pytest.fixture
def scoring(app: FastAPI, client: httpx.AsyncClient) -> Scoring:
    return Scoring(app, client)


@pytest.fixture
def down() -> Callable[[], httpx.AsyncClient]:
    return failing_client
