"""GDPR access: everything the service holds about one customer, in one document."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from crm_customer.privacy import service as privacy_service
from crm_shared.testing import assert_problem

MISSING = "01900000-0000-7000-8000-000000000000"


async def _open_ticket(
    client: httpx.AsyncClient, customer_id: str, **fields: Any
) -> dict[str, Any]:
    payload = {"customer_id": customer_id, "kind": "inquiry", "subject": "Hi", "body": "Hi"}
    response = await client.post("/v1/tickets", json={**payload, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _whole_timeline(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    """The timeline as the paginated endpoint gives it, page by page."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/customers/{customer_id}/timeline", params=params)).json()
        events.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events


async def test_export_holds_profile_referrals_tickets_and_timeline(
    client: httpx.AsyncClient, new_customer
) -> None:
    ada = await new_customer(
        email="ada@example.com", first_name="Ada", tags=["vip"], phone="+4930123456"
    )
    referred = [await new_customer(referred_by=ada["id"]) for _ in range(2)]
    await new_customer()  # someone else, referred by nobody
    first = await _open_ticket(client, ada["id"], subject="Kettle", body="It leaks")
    second = await _open_ticket(client, ada["id"], kind="complaint", subject="Late")
    notes = []
    for text in ("called", "refunded"):
        response = await client.post(
            f"/v1/tickets/{first['id']}/notes", json={"body": text, "author": "sam"}
        )
        notes.append(response.json())
    await client.patch(f"/v1/tickets/{second['id']}", json={"status": "pending"})
    await client.post(f"/v1/customers/{ada['id']}/tags", json={"tags": ["b2b"]})

    before = dt.datetime.now(dt.UTC)
    response = await client.get(f"/v1/customers/{ada['id']}/gdpr-export")
    assert response.status_code == 200, response.text
    export = response.json()

    assert export["customer"] == (await client.get(f"/v1/customers/{ada['id']}")).json()
    assert export["customer"]["email"] == "ada@example.com"
    assert export["referred_customers"] == [customer["id"] for customer in referred]
    assert [ticket["id"] for ticket in export["tickets"]] == [first["id"], second["id"]]
    assert export["tickets"][0]["notes"] == notes
    assert export["tickets"][0] == (await client.get(f"/v1/tickets/{first['id']}")).json()
    assert export["tickets"][1]["status"] == "pending"
    assert export["tickets"][1]["notes"] == []
    assert export["timeline"] == await _whole_timeline(client, ada["id"])
    kinds = [event["kind"] for event in export["timeline"]]
    assert kinds[0] == "created"
    assert kinds.count("referred") == 2
    assert kinds.count("ticket_opened") == 2
    assert kinds.count("ticket_note_added") == 2
    assert "ticket_status_changed" in kinds
    assert "tagged" in kinds
    assert dt.datetime.fromisoformat(export["exported_at"]) >= before


async def test_the_timeline_is_whole_however_long(
    client: httpx.AsyncClient, new_customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small internal page makes the export walk several of them.
    monkeypatch.setattr(privacy_service, "TIMELINE_PAGE", 4)
    customer = await new_customer()
    for number in range(9):
        await client.post(f"/v1/customers/{customer['id']}/tags", json={"tags": [f"t{number}"]})
    export = (await client.get(f"/v1/customers/{customer['id']}/gdpr-export")).json()
    assert len(export["timeline"]) == 10
    assert export["timeline"] == await _whole_timeline(client, customer["id"])
    assert len({event["id"] for event in export["timeline"]}) == 10


async def test_a_soft_deleted_customer_can_still_be_exported(
    client: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer(email="left@example.com")
    ticket = await _open_ticket(client, customer["id"])
    assert (await client.delete(f"/v1/customers/{customer['id']}")).status_code == 204
    response = await client.get(f"/v1/customers/{customer['id']}/gdpr-export")
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["customer"]["email"] == "left@example.com"
    assert [t["id"] for t in export["tickets"]] == [ticket["id"]]
    assert [event["kind"] for event in export["timeline"]] == [
        "created",
        "ticket_opened",
        "deleted",
    ]


async def test_export_of_unknown_or_malformed_ids(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.get(f"/v1/customers/{MISSING}/gdpr-export"), 404, "customer-not-found"
    )
    assert_problem(await client.get("/v1/customers/nope/gdpr-export"), 422, "validation-error")


async def test_an_erased_customer_is_gone(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    erased = await client.post(
        f"/v1/customers/{customer['id']}/erase", json={"reason": "art. 17", "requested_by": "dpo"}
    )
    assert erased.status_code == 200, erased.text
    problem = assert_problem(
        await client.get(f"/v1/customers/{customer['id']}/gdpr-export"), 410, "customer-erased"
    )
    assert customer["id"] in problem["detail"]
