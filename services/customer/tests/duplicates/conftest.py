"""Fixtures of the duplicates tests: tickets to move, and a snapshot of everything stored."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.tickets import repository as tickets_repository
from crm_customer.tickets.models import Ticket
from crm_shared.db import Database
from crm_shared.testing import count_rows

TicketFactory = Callable[[str], Awaitable[str]]
Snapshot = Callable[[], Awaitable[dict[str, Any]]]

TABLES = ("customers", "customer_events", "customer_tags", "tickets", "idempotency_keys")


@pytest.fixture
def new_ticket(client: httpx.AsyncClient, database: Database) -> TicketFactory:
    """Opens a ticket for a customer: through the API when it is there, else as a row."""

    async def create(customer_id: str) -> str:
        payload = {"customer_id": customer_id, "kind": "inquiry", "subject": "Hi", "body": "?"}
        response = await client.post("/v1/tickets", json=payload)
        if response.status_code == 201:
            return str(response.json()["id"])
        ticket = Ticket(customer_id=uuid.UUID(customer_id), kind="inquiry", subject="Hi", body="?")
        async with AsyncSession(database.engine) as session, session.begin():
            ticket.change_position = await tickets_repository.next_position(session)
            session.add(ticket)
        return str(ticket.id)

    return create


@pytest.fixture
def ticket_owners(database: Database) -> Callable[[], Awaitable[dict[str, str]]]:
    """Each ticket's customer, by ticket id."""

    async def read() -> dict[str, str]:
        tickets = Ticket.__table__  # type: ignore[attr-defined]
        async with database.engine.connect() as connection:
            rows = await connection.execute(select(tickets.c.id, tickets.c.customer_id))
            return {str(row.id): str(row.customer_id) for row in rows}

    return read


@pytest.fixture
def export_feed(client: httpx.AsyncClient) -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    """The export feed's lines after a cursor."""

    async def read(cursor: int = 0) -> list[dict[str, Any]]:
        response = await client.get("/v1/customers/export", params={"cursor": cursor})
        assert response.status_code == 200, response.text
        return [orjson.loads(line) for line in response.text.splitlines() if line]

    return read


@pytest.fixture
def snapshot(database: Database, ticket_owners, export_feed) -> Snapshot:
    """Everything a merge could change: row counts, the feed (each customer's state and
    position), every ticket's owner and the feed counter."""

    async def take() -> dict[str, Any]:
        async with database.engine.connect() as connection:
            counter = (await connection.execute(text("SELECT position FROM feed_counter"))).all()
        return {
            "counts": {table: await count_rows(database, table) for table in TABLES},
            "feed": await export_feed(),
            "tickets": await ticket_owners(),
            "counter": [tuple(row) for row in counter],
        }

    return take
