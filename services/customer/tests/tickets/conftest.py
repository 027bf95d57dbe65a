"""Fixtures of the ticket tests: opening a ticket through the API."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

TicketFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_ticket(client: httpx.AsyncClient, new_customer) -> TicketFactory:
    """Opens a ticket through the API, for a new customer unless `customer_id` is given."""
    serial = itertools.count(1)

    async def create(**fields: Any) -> dict[str, Any]:
        if "customer_id" not in fields:
            fields["customer_id"] = (await new_customer())["id"]
        number = next(serial)
        payload = {
            "kind": "inquiry",
            "subject": f"Question {number}",
            "body": f"Where is my order {number}?",
            **fields,
        }
        response = await client.post("/v1/tickets", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create
