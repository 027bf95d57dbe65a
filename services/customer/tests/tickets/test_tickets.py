"""Open, read and annotate tickets; what they leave on the customer's timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import orjson
import pytest

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

MISSING = "01900000-0000-7000-8000-000000000000"


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def _timeline(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 500})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _feed(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The export feed's latest line per customer id."""
    response = await client.get("/v1/customers/export")
    assert response.status_code == 200, response.text
    lines = [orjson.loads(line) for line in response.text.splitlines() if line]
    return {line["id"]: line for line in lines}


async def test_open_and_read_a_ticket(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    payload = {
        "customer_id": customer["id"],
        "kind": "complaint",
        "subject": "  Broken kettle  ",
        "body": "It leaks.\nPlease help.",
    }
    created = await client.post("/v1/tickets", json=payload)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["customer_id"] == customer["id"]
    assert ticket["kind"] == "complaint"
    assert ticket["subject"] == "Broken kettle"
    assert ticket["body"] == "It leaks.\nPlease help."
    assert ticket["status"] == "open"
    assert ticket["satisfaction"] is None
    assert ticket["resolved_at"] is None
    assert ticket["closed_at"] is None
    assert ticket["created_at"] == ticket["updated_at"]

    read = await client.get(f"/v1/tickets/{ticket['id']}")
    assert read.status_code == 200, read.text
    assert read.json() == {**ticket, "notes": []}


async def test_ticket_for_an_unknown_customer_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(
        "/v1/tickets",
        json={"customer_id": MISSING, "kind": "inquiry", "subject": "Hi", "body": "Hello"},
    )
    problem = assert_problem(response, 422, "ticket-customer-not-found")
    assert MISSING in problem["detail"]
    assert await count_rows(database, "tickets") == 0


async def test_ticket_for_a_deleted_customer_is_refused(
    client: httpx.AsyncClient, new_customer, database: Database
) -> None:
    customer = await new_customer()
    assert (await client.delete(f"/v1/customers/{customer['id']}")).status_code == 204
    events_before = await count_rows(database, "customer_events")
    response = await client.post(
        "/v1/tickets",
        json={"customer_id": customer["id"], "kind": "inquiry", "subject": "Hi", "body": "Hi"},
    )
    assert_problem(response, 422, "ticket-customer-not-found")
    assert await count_rows(database, "tickets") == 0
    assert await count_rows(database, "customer_events") == events_before


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "praise"},
        {"kind": None},
        {"subject": ""},
        {"subject": "two\nlines"},
        {"subject": "x" * 201},
        {"body": ""},
        {"body": "bell \x07"},
        {"customer_id": "not-a-uuid"},
        {"status": "closed"},
        {"satisfaction": 5},
    ],
)
async def test_bad_ticket_input_stores_nothing(
    client: httpx.AsyncClient, new_customer, database: Database, change: dict[str, Any]
) -> None:
    customer = await new_customer()
    events_before = await count_rows(database, "customer_events")
    payload = {"customer_id": customer["id"], "kind": "inquiry", "subject": "Hi", "body": "Hi"}
    response = await client.post("/v1/tickets", json={**payload, **change})
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"].startswith("body")
    assert await count_rows(database, "tickets") == 0
    assert await count_rows(database, "customer_events") == events_before


async def test_missing_fields_are_named(client: httpx.AsyncClient, database: Database) -> None:
    problem = assert_problem(await client.post("/v1/tickets", json={}), 422, "validation-error")
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"body.customer_id", "body.kind", "body.subject", "body.body"}
    assert await count_rows(database, "tickets") == 0


async def test_idempotency_key_replays_the_first_ticket(
    client: httpx.AsyncClient, new_customer, database: Database
) -> None:
    customer = await new_customer()
    headers = {"Idempotency-Key": "ticket-1"}
    payload = {"customer_id": customer["id"], "kind": "inquiry", "subject": "Hi", "body": "Hi"}
    first = await client.post("/v1/tickets", json=payload, headers=headers)
    second = await client.post("/v1/tickets", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_rows(database, "tickets") == 1
    kinds = [event["kind"] for event in await _timeline(client, customer["id"])]
    assert kinds.count("ticket_opened") == 1

    other = await client.post("/v1/tickets", json={**payload, "subject": "Other"}, headers=headers)
    assert_problem(other, 409, "idempotency-key-reused")
    assert await count_rows(database, "tickets") == 1


async def test_unknown_and_malformed_ticket_ids(client: httpx.AsyncClient) -> None:
    note = {"body": "x", "author": "sam"}
    assert_problem(await client.get(f"/v1/tickets/{MISSING}"), 404, "ticket-not-found")
    patched = await client.patch(f"/v1/tickets/{MISSING}", json={"status": "pending"})
    assert_problem(patched, 404, "ticket-not-found")
    noted = await client.post(f"/v1/tickets/{MISSING}/notes", json=note)
    assert_problem(noted, 404, "ticket-not-found")
    assert_problem(await client.get("/v1/tickets/nope"), 422, "validation-error")
    assert_problem(await client.patch("/v1/tickets/nope", json={"status": "open"}), 422)
    assert_problem(await client.post("/v1/tickets/nope/notes", json=note), 422)


async def test_notes_are_listed_oldest_first(client: httpx.AsyncClient, new_ticket) -> None:
    ticket = await new_ticket()
    written = []
    for number, author in enumerate(["sam", "alex", "sam"]):
        response = await client.post(
            f"/v1/tickets/{ticket['id']}/notes",
            json={"body": f"  note {number}\nsecond line ", "author": author},
        )
        assert response.status_code == 201, response.text
        written.append(response.json())
    assert [note["body"] for note in written] == [f"note {n}\nsecond line" for n in range(3)]

    detail = (await client.get(f"/v1/tickets/{ticket['id']}")).json()
    assert detail["notes"] == written
    stamps = [_at(note["created_at"]) for note in detail["notes"]]
    assert stamps == sorted(stamps)
    # A note is activity on the ticket.
    assert _at(detail["updated_at"]) == stamps[-1]


async def test_notes_in_every_status_but_closed(
    client: httpx.AsyncClient, new_ticket, database: Database
) -> None:
    ticket = await new_ticket()
    path = f"/v1/tickets/{ticket['id']}"
    note = {"body": "checked", "author": "sam"}
    assert (await client.post(f"{path}/notes", json=note)).status_code == 201
    for status in ("pending", "resolved"):
        assert (await client.patch(path, json={"status": status})).status_code == 200
        assert (await client.post(f"{path}/notes", json=note)).status_code == 201
    assert (await client.patch(path, json={"status": "closed"})).status_code == 200
    notes_before = await count_rows(database, "ticket_notes")
    problem = assert_problem(await client.post(f"{path}/notes", json=note), 409, "ticket-closed")
    assert "reopen" in problem["detail"]
    assert await count_rows(database, "ticket_notes") == notes_before
    assert (await client.patch(path, json={"status": "open"})).status_code == 200
    assert (await client.post(f"{path}/notes", json=note)).status_code == 201
    assert await count_rows(database, "ticket_notes") == notes_before + 1


@pytest.mark.parametrize(
    "note",
    [
        {},
        {"body": "x"},
        {"author": "sam"},
        {"body": "", "author": "sam"},
        {"body": "x", "author": ""},
        {"body": "x", "author": "two\nlines"},
        {"body": "x", "author": "sam", "pinned": True},
    ],
)
async def test_bad_notes_store_nothing(
    client: httpx.AsyncClient, new_ticket, database: Database, note: dict[str, Any]
) -> None:
    ticket = await new_ticket()
    events_before = await count_rows(database, "customer_events")
    response = await client.post(f"/v1/tickets/{ticket['id']}/notes", json=note)
    assert_problem(response, 422, "validation-error")
    assert await count_rows(database, "ticket_notes") == 0
    assert await count_rows(database, "customer_events") == events_before
    assert (await client.get(f"/v1/tickets/{ticket['id']}")).json()["updated_at"] == ticket[
        "updated_at"
    ]


async def test_idempotency_key_on_notes(
    client: httpx.AsyncClient, new_ticket, database: Database
) -> None:
    first_ticket, second_ticket = await new_ticket(), await new_ticket()
    headers = {"Idempotency-Key": "note-1"}
    note = {"body": "called back", "author": "sam"}
    path = f"/v1/tickets/{first_ticket['id']}/notes"
    first = await client.post(path, json=note, headers=headers)
    second = await client.post(path, json=note, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert await count_rows(database, "ticket_notes") == 1
    # The key is scoped to the ticket: the same key on another ticket is a new note.
    other = await client.post(
        f"/v1/tickets/{second_ticket['id']}/notes", json=note, headers=headers
    )
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert await count_rows(database, "ticket_notes") == 2


async def test_ticket_events_go_on_the_customer_timeline(
    client: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer()
    created = await client.post(
        "/v1/tickets",
        json={"customer_id": customer["id"], "kind": "feedback", "subject": "Nice", "body": "!"},
    )
    ticket = created.json()
    path = f"/v1/tickets/{ticket['id']}"
    await client.post(f"{path}/notes", json={"body": "thanked", "author": "sam"})
    await client.patch(path, json={"status": "resolved"})
    await client.patch(path, json={"subject": "Very nice"})

    timeline = await _timeline(client, customer["id"])
    assert [event["kind"] for event in timeline] == [
        "created",
        "ticket_opened",
        "ticket_note_added",
        "ticket_status_changed",
    ]
    opened, noted, changed = (event["data"] for event in timeline[1:])
    assert opened == {"ticket_id": ticket["id"], "kind": "feedback", "subject": "Nice"}
    assert noted == {"ticket_id": ticket["id"]}
    assert changed == {"ticket_id": ticket["id"], "from": "open", "to": "resolved"}


async def test_ticket_changes_do_not_move_the_customer_in_the_feed(
    client: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer()
    before = (await _feed(client))[customer["id"]]
    ticket = (
        await client.post(
            "/v1/tickets",
            json={"customer_id": customer["id"], "kind": "inquiry", "subject": "a", "body": "b"},
        )
    ).json()
    await client.post(f"/v1/tickets/{ticket['id']}/notes", json={"body": "x", "author": "sam"})
    await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "pending"})
    assert (await _feed(client))[customer["id"]] == before
    read = (await client.get(f"/v1/customers/{customer['id']}")).json()
    assert read["updated_at"] == customer["updated_at"]
