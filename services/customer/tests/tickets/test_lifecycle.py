"""A ticket's status transitions, satisfaction rating and concurrent changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import httpx
import pytest

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

STATUSES = ("open", "pending", "resolved", "closed")
# The allowed moves as the product defines them, written out independently of the code.
ALLOWED = {
    ("open", "pending"),
    ("open", "resolved"),
    ("pending", "open"),
    ("pending", "resolved"),
    ("resolved", "closed"),
    ("resolved", "open"),
    ("closed", "open"),
}
# How to bring a new ticket to each status along allowed moves.
ROUTE = {
    "open": [],
    "pending": ["pending"],
    "resolved": ["resolved"],
    "closed": ["resolved", "closed"],
}
PAIRS = list(itertools.product(STATUSES, STATUSES))


def _at(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value is not None else None


async def _patch(client: httpx.AsyncClient, ticket_id: str, **fields: Any) -> httpx.Response:
    return await client.patch(f"/v1/tickets/{ticket_id}", json=fields)


async def _bring_to(
    client: httpx.AsyncClient, ticket: dict[str, Any], status: str
) -> dict[str, Any]:
    for step in ROUTE[status]:
        response = await _patch(client, ticket["id"], status=step)
        assert response.status_code == 200, response.text
        ticket = response.json()
    assert ticket["status"] == status
    return ticket


async def _status_events(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    page = (await client.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 500})).json()
    return [event["data"] for event in page["items"] if event["kind"] == "ticket_status_changed"]


@pytest.mark.parametrize(("current", "target"), [pair for pair in PAIRS if pair in ALLOWED])
async def test_allowed_transition(
    client: httpx.AsyncClient, new_ticket, current: str, target: str
) -> None:
    ticket = await _bring_to(client, await new_ticket(), current)
    response = await _patch(client, ticket["id"], status=target)
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["status"] == target
    assert _at(moved["updated_at"]) > _at(ticket["updated_at"])
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json() == moved
    events = await _status_events(client, ticket["customer_id"])
    assert events[-1] == {"ticket_id": ticket["id"], "from": current, "to": target}
    assert len(events) == len(ROUTE[current]) + 1


@pytest.mark.parametrize(("current", "target"), [pair for pair in PAIRS if pair not in ALLOWED])
async def test_refused_transition(
    client: httpx.AsyncClient, new_ticket, database: Database, current: str, target: str
) -> None:
    ticket = await _bring_to(client, await new_ticket(), current)
    events_before = await count_rows(database, "customer_events")
    response = await _patch(client, ticket["id"], status=target)
    problem = assert_problem(response, 409, "invalid-transition")
    allowed = sorted(to for source, to in ALLOWED if source == current)
    assert (problem["from"], problem["to"], problem["allowed"]) == (current, target, allowed)
    assert current in problem["detail"]
    assert target in problem["detail"]
    assert all(status in problem["detail"] for status in allowed)
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json() == {**ticket, "notes": []}
    assert await count_rows(database, "customer_events") == events_before


async def test_resolution_and_closing_times(client: httpx.AsyncClient, new_ticket) -> None:
    ticket = await new_ticket()
    resolved = (await _patch(client, ticket["id"], status="resolved")).json()
    assert _at(resolved["resolved_at"]) == _at(resolved["updated_at"])
    assert resolved["closed_at"] is None

    closed = (await _patch(client, ticket["id"], status="closed")).json()
    assert closed["resolved_at"] == resolved["resolved_at"]
    assert _at(closed["closed_at"]) == _at(closed["updated_at"])
    assert _at(closed["closed_at"]) > _at(closed["resolved_at"])

    reopened = (await _patch(client, ticket["id"], status="open")).json()
    assert reopened["resolved_at"] is None
    assert reopened["closed_at"] is None

    resolved_again = (await _patch(client, ticket["id"], status="resolved")).json()
    assert _at(resolved_again["resolved_at"]) > _at(closed["closed_at"])
    back_open = (await _patch(client, ticket["id"], status="open")).json()
    assert back_open["resolved_at"] is None


async def test_pending_keeps_no_resolution_time(client: httpx.AsyncClient, new_ticket) -> None:
    ticket = await new_ticket()
    pending = (await _patch(client, ticket["id"], status="pending")).json()
    assert (pending["resolved_at"], pending["closed_at"]) == (None, None)


@pytest.mark.parametrize("status", ["open", "pending"])
async def test_satisfaction_refused_before_resolution(
    client: httpx.AsyncClient, new_ticket, status: str
) -> None:
    ticket = await _bring_to(client, await new_ticket(), status)
    response = await _patch(client, ticket["id"], satisfaction=4)
    problem = assert_problem(response, 409, "satisfaction-not-allowed")
    assert status in problem["detail"]
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json()["satisfaction"] is None


@pytest.mark.parametrize("status", ["resolved", "closed"])
async def test_satisfaction_on_resolved_or_closed(
    client: httpx.AsyncClient, new_ticket, status: str
) -> None:
    ticket = await _bring_to(client, await new_ticket(), status)
    response = await _patch(client, ticket["id"], satisfaction=2)
    assert response.status_code == 200, response.text
    assert response.json()["satisfaction"] == 2
    assert response.json()["status"] == status
    assert _at(response.json()["updated_at"]) > _at(ticket["updated_at"])
    changed = await _patch(client, ticket["id"], satisfaction=5)
    assert changed.json()["satisfaction"] == 5


@pytest.mark.parametrize(("current", "target"), [("open", "resolved"), ("resolved", "closed")])
async def test_satisfaction_with_the_resolving_change(
    client: httpx.AsyncClient, new_ticket, current: str, target: str
) -> None:
    ticket = await _bring_to(client, await new_ticket(), current)
    response = await _patch(client, ticket["id"], status=target, satisfaction=5)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["satisfaction"]) == (target, 5)


async def test_satisfaction_with_a_non_resolving_change_changes_nothing(
    client: httpx.AsyncClient, new_ticket, database: Database
) -> None:
    ticket = await new_ticket()
    response = await _patch(client, ticket["id"], status="pending", satisfaction=3)
    assert_problem(response, 409, "satisfaction-not-allowed")
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json()["status"] == "open"
    assert await _status_events(client, ticket["customer_id"]) == []


async def test_satisfaction_survives_closing_and_reopening_clears_it(
    client: httpx.AsyncClient, new_ticket
) -> None:
    ticket = await _bring_to(client, await new_ticket(), "resolved")
    await _patch(client, ticket["id"], satisfaction=4)
    closed = (await _patch(client, ticket["id"], status="closed")).json()
    assert closed["satisfaction"] == 4
    reopened = (await _patch(client, ticket["id"], status="open")).json()
    assert reopened["satisfaction"] is None


async def test_reopening_with_a_satisfaction_is_refused(
    client: httpx.AsyncClient, new_ticket
) -> None:
    ticket = await _bring_to(client, await new_ticket(), "resolved")
    rated = (await _patch(client, ticket["id"], satisfaction=4)).json()
    response = await _patch(client, ticket["id"], status="open", satisfaction=3)
    assert_problem(response, 409, "satisfaction-not-allowed")
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json() == {**rated, "notes": []}


async def test_satisfaction_can_be_withdrawn(client: httpx.AsyncClient, new_ticket) -> None:
    ticket = await _bring_to(client, await new_ticket(), "resolved")
    await _patch(client, ticket["id"], satisfaction=1)
    cleared = await _patch(client, ticket["id"], satisfaction=None)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["satisfaction"] is None


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"satisfaction": 0},
        {"satisfaction": 6},
        {"satisfaction": "great"},
        {"status": "archived"},
        {"status": None},
        {"subject": None},
        {"subject": ""},
        {"subject": "a\nb"},
        {"kind": "complaint"},
        {"customer_id": "01900000-0000-7000-8000-000000000000"},
    ],
)
async def test_bad_updates_change_nothing(
    client: httpx.AsyncClient, new_ticket, database: Database, change: dict[str, Any]
) -> None:
    ticket = await _bring_to(client, await new_ticket(), "resolved")
    events_before = await count_rows(database, "customer_events")
    response = await client.patch(f"/v1/tickets/{ticket['id']}", json=change)
    assert_problem(response, 422, "validation-error")
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json() == {**ticket, "notes": []}
    assert await count_rows(database, "customer_events") == events_before


async def test_subject_changes_in_any_status_without_a_status_event(
    client: httpx.AsyncClient, new_ticket
) -> None:
    ticket = await new_ticket(subject="Old")
    response = await _patch(client, ticket["id"], subject="  New subject ")
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "New subject"
    assert response.json()["status"] == "open"
    assert _at(response.json()["updated_at"]) > _at(ticket["updated_at"])
    assert await _status_events(client, ticket["customer_id"]) == []


async def test_an_unchanged_subject_is_no_change(client: httpx.AsyncClient, new_ticket) -> None:
    ticket = await new_ticket(subject="Same")
    response = await _patch(client, ticket["id"], subject="Same")
    assert response.status_code == 200
    assert response.json()["updated_at"] == ticket["updated_at"]


async def test_concurrent_transitions_cannot_both_pass(
    client: httpx.AsyncClient, new_ticket
) -> None:
    ticket = await new_ticket()
    responses = await asyncio.gather(
        *(_patch(client, ticket["id"], status="resolved") for _ in range(4))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 409, 409, 409], [response.text for response in responses]
    events = await _status_events(client, ticket["customer_id"])
    assert events == [{"ticket_id": ticket["id"], "from": "open", "to": "resolved"}]


async def test_concurrent_close_and_note_serialise(
    client: httpx.AsyncClient, new_ticket, database: Database
) -> None:
    ticket = await _bring_to(client, await new_ticket(), "resolved")
    closing, noting = await asyncio.gather(
        _patch(client, ticket["id"], status="closed"),
        client.post(f"/v1/tickets/{ticket['id']}/notes", json={"body": "x", "author": "sam"}),
    )
    assert closing.status_code == 200, closing.text
    # Either the note came first, or it saw the closed ticket: never a note after closing.
    notes = await count_rows(database, "ticket_notes")
    if noting.status_code == 201:
        assert notes == 1
        assert closing.json()["notes"] == [noting.json()]
    else:
        assert_problem(noting, 409, "ticket-closed")
        assert notes == 0
