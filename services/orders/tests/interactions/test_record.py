"""Recording one interaction: validation, products by id or sku, replays by event id."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def an_event(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "view",
        "customer_id": str(uuid.uuid4()),
        "occurred_at": (NOW - dt.timedelta(hours=1)).isoformat(),
        **fields,
    }


async def test_records_a_view_by_sku_and_reads_it_back(
    client: httpx.AsyncClient, new_product
) -> None:
    product = await new_product(sku="MUG-1")
    event = an_event(sku="MUG-1", session_id="s-1", event_id="ev-1")
    response = await client.post("/v1/interactions", json=event)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["product_id"] == product["id"]
    assert body["customer_id"] == event["customer_id"]
    assert body["session_id"] == "s-1"
    assert body["event_id"] == "ev-1"
    assert body["kind"] == "view"
    assert dt.datetime.fromisoformat(body["occurred_at"]) == NOW - dt.timedelta(hours=1)
    received = dt.datetime.fromisoformat(body["received_at"])
    assert abs(received - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

    listed = await client.get(f"/v1/customers/{event['customer_id']}/interactions")
    assert listed.json()["items"] == [body]


async def test_a_visitor_rates_a_product_by_id(client: httpx.AsyncClient, new_product) -> None:
    product = await new_product()
    event = {
        "kind": "rating",
        "session_id": "visitor-9",
        "product_id": product["id"],
        "rating": 4,
        "occurred_at": "2024-05-01T12:00:00+02:00",
    }
    response = await client.post("/v1/interactions", json=event)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["customer_id"] is None
    assert body["rating"] == 4
    assert body["occurred_at"] == "2024-05-01T10:00:00Z"


async def test_a_replayed_event_is_stored_once_and_answers_200_with_the_first(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="A")
    await new_product(sku="B")
    first = await client.post("/v1/interactions", json=an_event(sku="A", event_id="ev-7"))
    assert first.status_code == 201
    # The event id identifies the event: a replay's other fields do not overwrite it.
    again = await client.post("/v1/interactions", json=an_event(sku="B", event_id="ev-7"))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await count_rows(database, "interactions") == 1


async def test_events_without_event_id_are_each_stored(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="A")
    event = an_event(sku="A")
    assert (await client.post("/v1/interactions", json=event)).status_code == 201
    assert (await client.post("/v1/interactions", json=event)).status_code == 201
    assert await count_rows(database, "interactions") == 2


async def test_an_unknown_product_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="A")
    by_sku = await client.post("/v1/interactions", json=an_event(sku="a"))
    problem = assert_problem(by_sku, 422, "unknown-product")
    assert problem["field"] == "sku"
    by_id = await client.post("/v1/interactions", json=an_event(product_id=str(uuid.uuid4())))
    assert assert_problem(by_id, 422, "unknown-product")["field"] == "product_id"
    assert await count_rows(database, "interactions") == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"customer_id": None}, "body"),
        ({"sku": "A", "product_id": str(uuid.uuid4())}, "body"),
        ({"sku": None}, "body"),
        ({"kind": "rating"}, "body"),
        ({"kind": "rating", "rating": 6}, "body.rating"),
        ({"kind": "view", "rating": 3}, "body"),
        ({"kind": "review", "rating": 3}, "body"),
        ({"kind": "wishlist", "review_text": "nice"}, "body"),
        ({"kind": "purchase"}, "body.kind"),
        ({"occurred_at": "2024-05-01T10:00:00"}, "body.occurred_at"),
        ({"occurred_at": (NOW + dt.timedelta(hours=1)).isoformat()}, "body.occurred_at"),
        ({"event_id": ""}, "body.event_id"),
        ({"session_id": "x" * 101}, "body.session_id"),
        ({"colour": "red"}, "body.colour"),
    ],
)
async def test_invalid_events_are_refused(
    client: httpx.AsyncClient,
    database: Database,
    new_product,
    fields: dict[str, Any],
    field: str,
) -> None:
    await new_product(sku="A")
    event = {
        key: value for key, value in an_event(**{"sku": "A", **fields}).items() if value is not None
    }
    problem = assert_problem(await client.post("/v1/interactions", json=event), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await count_rows(database, "interactions") == 0


async def test_a_review_keeps_its_text_and_rating(client: httpx.AsyncClient, new_product) -> None:
    await new_product(sku="A")
    event = an_event(sku="A", kind="review", rating=5, review_text="  Sharp.\nStill sharp.  ")
    response = await client.post("/v1/interactions", json=event)
    assert response.status_code == 201, response.text
    assert response.json()["review_text"] == "Sharp.\nStill sharp."
    assert response.json()["rating"] == 5
