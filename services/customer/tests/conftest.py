"""Fixtures of the customer service suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from crm_customer.main import create_app
from crm_customer.models import metadata
from crm_customer.settings import CustomerSettings
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures

globals().update(service_fixtures(ServiceSpec("customer", create_app, CustomerSettings, metadata)))


CustomerFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_customer(client: httpx.AsyncClient) -> CustomerFactory:
    """Creates a customer through the API; a unique email unless one is given."""
    serial = itertools.count(1)

    async def create(**fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"email": f"customer{next(serial)}@example.com", **fields}
        response = await client.post("/v1/customers", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create
