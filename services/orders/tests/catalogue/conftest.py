"""Fixtures of the catalogue tests: products made through the API."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

ProductFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_product(client: httpx.AsyncClient) -> ProductFactory:
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
