"""Listing tickets: filters, a customer's tickets, and keyset pages."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from crm_shared.pagination import encode_cursor
from crm_shared.testing import assert_problem

MISSING = "01900000-0000-7000-8000-000000000000"


async def _walk(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paginated list, following next_cursor; and how many pages it took."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for pages in itertools.count(1):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(page["items"]) == limit
    raise AssertionError("unreachable")


@pytest.fixture
async def shop_tickets(client: httpx.AsyncClient, new_customer, new_ticket) -> dict[str, Any]:
    """Two customers with tickets of every kind, some moved on to other statuses."""
    ada, bob = await new_customer(), await new_customer()
    tickets = []
    for customer, kind, status in itertools.product(
        (ada, bob), ("inquiry", "feedback", "complaint"), ("open", "pending", "resolved")
    ):
        ticket = await new_ticket(customer_id=customer["id"], kind=kind)
        if status != "open":
            response = await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": status})
            ticket = response.json()
            del ticket["notes"]
        tickets.append(ticket)
    return {"ada": ada, "bob": bob, "tickets": tickets}


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"customer": "ada"},
        {"status": "pending"},
        {"kind": "complaint"},
        {"customer": "bob", "status": "resolved"},
        {"customer": "ada", "kind": "feedback", "status": "open"},
        {"kind": "inquiry", "status": "closed"},
    ],
)
async def test_filters_combine(
    client: httpx.AsyncClient, shop_tickets: dict[str, Any], filters: dict[str, str]
) -> None:
    params = dict(filters)
    if "customer" in params:
        params["customer_id"] = shop_tickets[params.pop("customer")]["id"]
    expected = [
        ticket
        for ticket in shop_tickets["tickets"]
        if all(ticket[field] == value for field, value in params.items())
    ]
    items, _ = await _walk(client, "/v1/tickets", params, limit=4)
    assert items == expected
    assert [item["id"] for item in items] == sorted(item["id"] for item in items)


async def test_pages_cover_every_ticket_once(
    client: httpx.AsyncClient, shop_tickets: dict[str, Any]
) -> None:
    every = shop_tickets["tickets"]
    items, pages = await _walk(client, "/v1/tickets", {}, limit=5)
    assert [item["id"] for item in items] == [ticket["id"] for ticket in every]
    assert pages == -(-len(every) // 5)
    exact, exact_pages = await _walk(client, "/v1/tickets", {}, limit=len(every))
    assert (len(exact), exact_pages) == (len(every), 1)


async def test_a_customers_tickets(client: httpx.AsyncClient, shop_tickets: dict[str, Any]) -> None:
    ada = shop_tickets["ada"]
    path = f"/v1/customers/{ada['id']}/tickets"
    mine = [ticket for ticket in shop_tickets["tickets"] if ticket["customer_id"] == ada["id"]]
    items, pages = await _walk(client, path, {}, limit=2)
    assert items == mine
    assert pages == -(-len(mine) // 2)
    resolved, _ = await _walk(client, path, {"status": "resolved"}, limit=2)
    assert resolved == [ticket for ticket in mine if ticket["status"] == "resolved"]


async def test_a_customer_without_tickets_has_an_empty_list(
    client: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer()
    response = await client.get(f"/v1/customers/{customer['id']}/tickets")
    assert response.json() == {"items": [], "next_cursor": None}


async def test_tickets_of_unknown_or_deleted_customers(
    client: httpx.AsyncClient, new_customer
) -> None:
    assert_problem(await client.get(f"/v1/customers/{MISSING}/tickets"), 404, "customer-not-found")
    assert_problem(await client.get("/v1/customers/nope/tickets"), 422, "validation-error")
    customer = await new_customer()
    await client.delete(f"/v1/customers/{customer['id']}")
    response = await client.get(f"/v1/customers/{customer['id']}/tickets")
    assert_problem(response, 404, "customer-not-found")


@pytest.mark.parametrize(
    "params",
    [
        {"status": "archived"},
        {"kind": "praise"},
        {"customer_id": "nope"},
        {"limit": 0},
        {"limit": 501},
    ],
)
async def test_bad_list_parameters(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await client.get("/v1/tickets", params=params), 422, "validation-error")


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor!", encode_cursor(["not-an-id"]), encode_cursor([7]), encode_cursor([])]
)
async def test_a_forged_cursor_is_a_bad_request(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/v1/tickets", params={"cursor": cursor})
    assert_problem(response, 400, "invalid-cursor")
