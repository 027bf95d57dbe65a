"""The change feeds: every change after a cursor, in position order, each row at its latest."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crm_shared.schemas.exports import InteractionChange, OrderLineChange, ProductChange
from crm_shared.testing import assert_problem

NDJSON = {"content-type": "application/x-ndjson"}
PLACED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


async def feed(client: httpx.AsyncClient, name: str, **params: Any) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    async with client.stream("GET", f"/v1/export/{name}", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        async for line in response.aiter_lines():
            if line:
                lines.append(json.loads(line))
    return lines


def positions(lines: list[dict[str, Any]]) -> list[int]:
    return [line["position"] for line in lines]


async def test_products_feed_carries_each_product_once_at_its_latest(
    client: httpx.AsyncClient, new_product
) -> None:
    mug = await new_product(sku="MUG", price="4.5", category_path="Home/Kitchen")
    pen = await new_product(sku="PEN", price="1200", currency="JPY")
    await new_product(sku="INK")
    first = await feed(client, "products")
    assert [line["sku"] for line in first] == ["MUG", "PEN", "INK"]
    assert positions(first) == sorted(positions(first))
    for line in first:
        ProductChange.model_validate(line)
    assert first[0]["price"] == "4.50"
    assert first[0]["category_path"] == "home/kitchen"
    assert first[1]["price"] == "1200"
    assert first[1]["id"] == pen["id"]

    changed = await client.patch(f"/v1/products/{mug['id']}", json={"price": "5.25"})
    assert changed.status_code == 200, changed.text
    latest = await feed(client, "products")
    assert [line["sku"] for line in latest] == ["PEN", "INK", "MUG"]
    assert latest[-1]["price"] == "5.25"
    assert latest[-1]["position"] > first[-1]["position"]
    assert latest[-1]["changed_at"] >= first[0]["changed_at"]

    since = await feed(client, "products", cursor=first[-1]["position"])
    assert [line["sku"] for line in since] == ["MUG"]
    assert [line["sku"] for line in await feed(client, "products", limit=2)] == ["PEN", "INK"]


async def test_interactions_feed_pages_through_everything_in_order(
    client: httpx.AsyncClient, new_product
) -> None:
    product = await new_product(sku="A")
    events = [
        {
            "kind": "rating" if n % 3 == 0 else "view",
            "customer_id": str(uuid.uuid4()),
            "sku": "A",
            **({"rating": 1 + n % 5} if n % 3 == 0 else {}),
            "occurred_at": (PLACED + dt.timedelta(seconds=n)).isoformat(),
            "event_id": f"e-{n}",
        }
        for n in range(25)
    ]
    body = b"".join(json.dumps(event).encode() + b"\n" for event in events)
    response = await client.post("/v1/interactions/batch", content=body, headers=NDJSON)
    assert response.json()["inserted"] == 25

    everything = await feed(client, "interactions")
    assert [line["event_id"] for line in everything] == [f"e-{n}" for n in range(25)]
    # Times in UTC with a Z, as the API writes them everywhere.
    assert everything[5]["occurred_at"] == "2024-06-01T12:00:05Z"
    for line, event in zip(everything, events, strict=True):
        change = InteractionChange.model_validate(line)
        assert change.product_id == uuid.UUID(product["id"])
        assert str(change.customer_id) == event["customer_id"]
        assert change.rating == event.get("rating")
        assert change.occurred_at == dt.datetime.fromisoformat(event["occurred_at"])

    # A reader resumes from the last position it saw, in pieces of any size.
    resumed: list[dict[str, Any]] = []
    cursor = 0
    while piece := await feed(client, "interactions", cursor=cursor, limit=7):
        resumed.extend(piece)
        cursor = piece[-1]["position"]
    assert resumed == everything


@pytest.mark.parametrize("name", ["order-lines", "interactions", "products"])
async def test_a_negative_cursor_is_refused(client: httpx.AsyncClient, name: str) -> None:
    assert_problem(await client.get(f"/v1/export/{name}", params={"cursor": -1}), 422)
    assert_problem(await client.get(f"/v1/export/{name}", params={"limit": 0}), 422)


@pytest.mark.usefixtures("customers_exist")
async def test_order_lines_feed_follows_an_order_through_payment_and_refund(
    client: httpx.AsyncClient, new_product
) -> None:
    await new_product(sku="MUG", price="4.50")
    await new_product(sku="PEN", price="1.99")
    customer = str(uuid.uuid4())
    order = {
        "customer_id": customer,
        "external_ref": "shop-1",
        "channel": "web",
        "currency": "EUR",
        "placed_at": PLACED.isoformat(),
        "lines": [
            {"sku": "MUG", "quantity": 2, "discount": "1"},
            {"sku": "PEN", "quantity": 3, "unit_price": "2.10"},
        ],
    }
    created = await client.post("/v1/orders", json=order)
    assert created.status_code == 201, created.text
    placed = created.json()

    lines = await feed(client, "order-lines")
    assert [line["sku"] for line in lines] == ["MUG", "PEN"]
    for line in lines:
        change = OrderLineChange.model_validate(line)
        assert str(change.order_id) == placed["id"]
        assert str(change.customer_id) == customer
        assert change.order_external_ref == "shop-1"
        assert change.order_status == "pending"
        assert change.currency == "EUR"
        assert change.channel == "web"
        assert change.placed_at == PLACED
    assert [(line["unit_price"], line["discount"], line["line_total"]) for line in lines] == [
        ("4.50", "1.00", "8.00"),
        ("2.10", "0.00", "6.30"),
    ]
    created_head = lines[-1]["position"]

    paid = await client.post(f"/v1/orders/{placed['id']}/status", json={"status": "paid"})
    assert paid.status_code == 200, paid.text
    pen_line = next(line for line in paid.json()["lines"] if line["sku"] == "PEN")
    refund = {"lines": [{"order_line_id": pen_line["id"], "quantity": 1}]}
    refunded = await client.post(f"/v1/orders/{placed['id']}/refunds", json=refund)
    assert refunded.status_code == 201, refunded.text

    # Each line once, at its latest state, after every change of its order.
    latest = await feed(client, "order-lines")
    assert len(latest) == 2
    assert min(positions(latest)) > created_head
    by_sku = {line["sku"]: line for line in latest}
    assert by_sku["PEN"]["order_status"] == "paid"
    assert (by_sku["PEN"]["refunded_quantity"], by_sku["PEN"]["refunded_amount"]) == (1, "2.10")
    assert (by_sku["MUG"]["refunded_quantity"], by_sku["MUG"]["refunded_amount"]) == (0, "0.00")
    net = sum(Decimal(line["line_total"]) - Decimal(line["refunded_amount"]) for line in latest)
    assert net == Decimal("12.20")

    # A reader that had everything up to the creation sees exactly the two lines again.
    since_created = await feed(client, "order-lines", cursor=created_head)
    assert since_created == latest
