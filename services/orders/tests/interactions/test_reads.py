"""Reading interactions back: a customer's activity and a product's reviews, newest first."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx

NDJSON = {"content-type": "application/x-ndjson"}
START = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


async def ingest(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    body = b"".join(json.dumps(event).encode() + b"\n" for event in events)
    response = await client.post("/v1/interactions/batch", content=body, headers=NDJSON)
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == len(events), response.text


async def all_pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_customers_interactions_come_newest_first_in_pages(
    client: httpx.AsyncClient, new_product
) -> None:
    await new_product(sku="A")
    customer, other = str(uuid.uuid4()), str(uuid.uuid4())
    kinds = ["view", "add_to_cart", "wishlist", "remove_from_cart"]
    events = [
        {
            "kind": kinds[n % 4],
            "customer_id": customer,
            "sku": "A",
            # Pairs share a timestamp: the id breaks the tie, and pages must not lose one.
            "occurred_at": (START + dt.timedelta(minutes=n // 2)).isoformat(),
            "event_id": f"c-{n}",
        }
        for n in range(23)
    ]
    events.append({**events[0], "customer_id": other, "event_id": "other"})
    await ingest(client, events)

    path = f"/v1/customers/{customer}/interactions"
    items = await all_pages(client, path, limit=5)
    assert sorted(item["event_id"] for item in items) == sorted(f"c-{n}" for n in range(23))
    keys = [(item["occurred_at"], item["id"]) for item in items]
    assert keys == sorted(keys, reverse=True)

    carts = await all_pages(client, path, kind="add_to_cart", limit=2)
    assert [item["event_id"] for item in carts] == ["c-21", "c-17", "c-13", "c-9", "c-5", "c-1"]


async def test_an_unknown_customer_has_no_interactions(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/customers/{uuid.uuid4()}/interactions")
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_a_cursor_from_elsewhere_is_a_400(client: httpx.AsyncClient) -> None:
    for cursor in ("nonsense!", "WyJ4Il0", "WyJ4IiwgInkiXQ"):
        response = await client.get(
            f"/v1/customers/{uuid.uuid4()}/interactions", params={"cursor": cursor}
        )
        assert response.status_code == 400, (cursor, response.text)


async def test_a_products_reviews_newest_first_without_other_kinds(
    client: httpx.AsyncClient, new_product
) -> None:
    product = await new_product(sku="A")
    await new_product(sku="B")
    events = [
        {
            "kind": "review",
            "customer_id": str(uuid.uuid4()),
            "sku": "A",
            "rating": 1 + n % 5,
            "review_text": f"review {n}",
            "occurred_at": (START + dt.timedelta(days=n)).isoformat(),
        }
        for n in range(7)
    ]
    events.append({**events[3], "sku": "B", "review_text": "about B"})
    events.append(
        {
            "kind": "rating",
            "session_id": "s",
            "sku": "A",
            "rating": 5,
            "occurred_at": START.isoformat(),
        }
    )
    events.append({"kind": "view", "session_id": "s", "sku": "A", "occurred_at": START.isoformat()})
    await ingest(client, events)

    reviews = await all_pages(client, f"/v1/products/{product['id']}/reviews", limit=3)
    assert [review["text"] for review in reviews] == [f"review {n}" for n in reversed(range(7))]
    assert [review["rating"] for review in reviews] == [1 + n % 5 for n in reversed(range(7))]
    assert {review["product_id"] for review in reviews} == {product["id"]}


async def test_reviews_of_an_unknown_product_are_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/products/{uuid.uuid4()}/reviews")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:crm:problem:product-not-found"
