"""The ticket export feed: every change in order, each ticket at its latest state, erased
customers' text never leaving redacted."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from crm_shared.testing import assert_problem


async def _export(client: httpx.AsyncClient, cursor: int, **params: object) -> list[dict[str, Any]]:
    response = await client.get("/v1/tickets/export", params={"cursor": cursor, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in response.text.splitlines() if line]


async def test_the_feed_follows_ticket_changes(client: httpx.AsyncClient, new_ticket) -> None:
    first = await new_ticket(kind="complaint", subject="Broken lid", body="The lid cracked.")
    second = await new_ticket(kind="feedback")
    feed = await _export(client, 0)
    assert [(line["id"], line["kind"]) for line in feed] == [
        (first["id"], "complaint"),
        (second["id"], "feedback"),
    ]
    assert feed[0]["body"] == "The lid cracked."
    assert feed[0]["customer_id"] == first["customer_id"]
    assert feed[0]["redacted"] is False
    cursor = feed[-1]["position"]
    assert await _export(client, cursor) == []

    changed = await client.patch(f"/v1/tickets/{first['id']}", json={"status": "resolved"})
    assert changed.status_code == 200, changed.text
    noted = await client.post(
        f"/v1/tickets/{second['id']}/notes", json={"body": "Thanks!", "author": "Kim"}
    )
    assert noted.status_code == 201, noted.text
    changes = await _export(client, cursor)
    assert [line["id"] for line in changes] == [first["id"], second["id"]]
    assert changes[0]["status"] == "resolved"
    positions = [line["position"] for line in changes]
    assert positions == sorted(positions)
    assert positions[0] > cursor
    # Each ticket appears once, at its latest change; `limit` stops early.
    assert [line["id"] for line in await _export(client, 0)] == [first["id"], second["id"]]
    assert [line["id"] for line in await _export(client, 0, limit=1)] == [first["id"]]


async def test_an_unchanged_update_does_not_move_the_ticket(
    client: httpx.AsyncClient, new_ticket
) -> None:
    ticket = await new_ticket(subject="Same")
    cursor = (await _export(client, 0))[-1]["position"]
    response = await client.patch(f"/v1/tickets/{ticket['id']}", json={"subject": "Same"})
    assert response.status_code == 200, response.text
    assert await _export(client, cursor) == []


async def test_an_erasure_sends_the_tickets_again_redacted(
    client: httpx.AsyncClient, new_customer, new_ticket
) -> None:
    customer = await new_customer()
    other = await new_ticket(kind="complaint", body="My parcel arrived wet.")
    tickets = [
        await new_ticket(customer_id=customer["id"], kind="complaint", body="Call me on 0176 5550"),
        await new_ticket(customer_id=customer["id"], kind="feedback", body="Love it, Wilhelmina"),
    ]
    cursor = (await _export(client, 0))[-1]["position"]

    erased = await client.post(
        f"/v1/customers/{customer['id']}/erase", json={"reason": "GDPR", "requested_by": "dpo"}
    )
    assert erased.status_code == 200, erased.text
    changes = await _export(client, cursor)
    assert sorted(line["id"] for line in changes) == sorted(ticket["id"] for ticket in tickets)
    assert all(line["redacted"] for line in changes)
    whole_feed = (await client.get("/v1/tickets/export")).text
    assert "0176 5550" not in whole_feed
    assert "Wilhelmina" not in whole_feed
    assert "My parcel arrived wet." in whole_feed
    unchanged = next(line for line in await _export(client, 0) if line["id"] == other["id"])
    assert unchanged["redacted"] is False


async def test_a_merge_sends_the_moved_tickets_again(
    client: httpx.AsyncClient, new_customer, new_ticket
) -> None:
    survivor, duplicate = await new_customer(), await new_customer()
    moved = await new_ticket(customer_id=duplicate["id"], kind="feedback")
    kept = await new_ticket(customer_id=survivor["id"], kind="complaint")
    cursor = (await _export(client, 0))[-1]["position"]

    merged = await client.post(
        f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}
    )
    assert merged.status_code == 200, merged.text
    changes = await _export(client, cursor)
    assert [(line["id"], line["customer_id"]) for line in changes] == [
        (moved["id"], survivor["id"])
    ]
    assert kept["id"] not in {line["id"] for line in changes}


async def test_a_bad_cursor_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/tickets/export", params={"cursor": -1}), 422)
    assert_problem(await client.get("/v1/tickets/export", params={"cursor": "x"}), 422)
