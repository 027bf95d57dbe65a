"""Fixtures of the orders tests: a real customer service process and an orders app using it."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_orders.main import create_app
from crm_orders.settings import OrdersSettings
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    running_app,
    service_process,
    sqlite_url,
)

Factory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture(scope="session")
def customer_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The customer service as a real uvicorn process on its own SQLite database."""
    directory = tmp_path_factory.mktemp("customer-service")
    with service_process(
        "crm_customer",
        "CUSTOMER_",
        database_url=sqlite_url(directory, "customer"),
        log_dir=directory,
        extra_env={"CUSTOMER_LOG_LEVEL": "WARNING"},
    ) as service:
        yield service


@pytest.fixture(scope="session")
async def app(settings: OrdersSettings, customer_service: ServiceProcess) -> AsyncIterator[FastAPI]:
    """The orders app, asking the real customer service whether customers exist. Erasures
    are followed only when a test runs a pass, never by the schedule under its feet."""
    application = create_app(
        settings.model_copy(
            update={"customer_url": customer_service.url, "erasure_sync_interval_seconds": 0}
        )
    )
    async with running_app(application):
        yield application


@pytest.fixture
async def customer_api(customer_service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=customer_service.url, headers={"x-service-token": TEST_SERVICE_TOKEN}
    ) as client:
        yield client


@pytest.fixture
def new_customer(customer_api: httpx.AsyncClient) -> Callable[[], Awaitable[str]]:
    """Creates a customer in the customer service; returns its id."""

    async def create() -> str:
        email = f"{uuid.uuid4().hex}@example.com"
        response = await customer_api.post("/v1/customers", json={"email": email})
        assert response.status_code == 201, response.text
        customer_id: str = response.json()["id"]
        return customer_id

    return create


@pytest.fixture
def new_product(client: httpx.AsyncClient) -> Factory:
    """Creates a product through the API; a unique sku unless one is given."""
    serial = itertools.count(1)

    async def create(**fields: Any) -> dict[str, Any]:
        number = next(serial)
        payload: dict[str, Any] = {
            "sku": f"SKU-{number}",
            "name": f"Product {number}",
            "price": "10.00",
            "currency": "EUR",
            **fields,
        }
        response = await client.post("/v1/products", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create


@pytest.fixture
def place_order(client: httpx.AsyncClient) -> Factory:
    """Places an order through the API (EUR, web, one line per product given)."""

    async def place(
        customer_id: str, *products: dict[str, Any], quantity: int = 1, **fields: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "customer_id": customer_id,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": p["id"], "quantity": quantity} for p in products],
            **fields,
        }
        response = await client.post("/v1/orders", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return place
