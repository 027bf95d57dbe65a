"""Products for the feeds to carry, and a customer service that knows every customer."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_orders.customers import CustomerDirectory

ProductFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_product(client: httpx.AsyncClient) -> ProductFactory:
    """Creates a product through the API; a unique sku unless one is given."""
    serial = itertools.count(1)

    async def create(**fields: Any) -> dict[str, Any]:
        number = next(serial)
        payload = {
            "sku": f"SKU-{number}",
            "name": f"Product {number}",
            "price": "9.99",
            "currency": "EUR",
            **fields,
        }
        response = await client.post("/v1/products", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create


@pytest.fixture
async def customers_exist(app: FastAPI) -> AsyncIterator[None]:
    """A customer service that knows every customer, for placing orders through the API."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})

    original = app.state.customers
    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer.test") as http:
        app.state.customers = CustomerDirectory(http, cache_seconds=60)
        try:
            yield
        finally:
            app.state.customers = original
