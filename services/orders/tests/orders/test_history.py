"""Order lists, a customer's history and summary."""

from __future__ import annotations

import uuid

import httpx

from crm_shared.testing import assert_problem


async def _all_pages(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
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


def _at(day: int, hour: int = 12) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


async def test_pages_walk_every_order_once_newest_first(
    client: httpx.AsyncClient, new_customer, new_product, place_order
) -> None:
    product = await new_product()
    ada, bob = await new_customer(), await new_customer()
    placed = [
        await place_order(ada, product, placed_at=_at(5)),
        await place_order(bob, product, placed_at=_at(1)),
        await place_order(ada, product, placed_at=_at(9)),
        # Three placed at the same moment: the id breaks the tie, pages never split them wrong.
        await place_order(bob, product, placed_at=_at(3)),
        await place_order(ada, product, placed_at=_at(3)),
        await place_order(bob, product, placed_at=_at(3)),
        await place_order(ada, product, placed_at=_at(7)),
    ]
    expected = sorted(placed, key=lambda o: (o["placed_at"], o["id"]), reverse=True)
    for limit in (1, 2, 3, 7):
        seen = await _all_pages(client, "/v1/orders", limit=limit)
        assert [o["id"] for o in seen] == [o["id"] for o in expected], limit
    assert seen[0]["lines"][0]["product_id"] == product["id"]

    history = await _all_pages(client, f"/v1/customers/{ada}/orders", limit=2)
    assert [o["id"] for o in history] == [o["id"] for o in expected if o["customer_id"] == ada]


async def test_filters_combine(
    client: httpx.AsyncClient, new_customer, new_product, place_order
) -> None:
    product = await new_product()
    ada, bob = await new_customer(), await new_customer()
    early = await place_order(ada, product, placed_at=_at(1))
    middle = await place_order(ada, product, placed_at=_at(2))
    late = await place_order(bob, product, placed_at=_at(3))
    await client.post(f"/v1/orders/{middle['id']}/status", json={"status": "paid"})

    async def ids(path: str = "/v1/orders", **params: object) -> list[str]:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    assert await ids(customer_id=ada) == [middle["id"], early["id"]]
    assert await ids(status="paid") == [middle["id"]]
    assert await ids(status="pending", customer_id=ada) == [early["id"]]
    assert await ids(placed_after=_at(2)) == [late["id"], middle["id"]]
    assert await ids(placed_before=_at(2)) == [early["id"]]
    assert await ids(placed_after=_at(1), placed_before=_at(3)) == [middle["id"], early["id"]]
    assert await ids(f"/v1/customers/{bob}/orders") == [late["id"]]
    assert await ids(f"/v1/customers/{ada}/orders", status="paid") == [middle["id"]]
    assert await ids(f"/v1/customers/{uuid.uuid4()}/orders") == []


async def test_bad_list_parameters(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/orders", params={"cursor": "x"}), 400, "invalid-cursor")
    assert_problem(await client.get("/v1/orders", params={"status": "lost"}), 422)
    assert_problem(
        await client.get("/v1/orders", params={"placed_after": "2026-01-01T00:00:00"}), 422
    )
    assert_problem(await client.get("/v1/customers/nope/orders"), 422)


async def test_summary_counts_net_revenue_and_leaves_cancelled_orders_out(
    client: httpx.AsyncClient, new_customer, new_product, place_order
) -> None:
    customer = await new_customer()
    mug = await new_product(price="19.99")
    pen = await new_product(price="5.00")
    first = await place_order(customer, mug, placed_at=_at(1))  # 19.99, refunded 5.00
    await place_order(customer, mug, pen, placed_at=_at(4))  # 24.99, pending
    cancelled = await place_order(customer, pen, quantity=9, placed_at=_at(9))
    refunded = await place_order(customer, pen, placed_at=_at(6))  # 5.00, fully refunded
    await client.post(f"/v1/orders/{first['id']}/status", json={"status": "paid"})
    await client.post(
        f"/v1/orders/{first['id']}/refunds",
        json={"lines": [{"order_line_id": first["lines"][0]["id"], "quantity": 0, "amount": 5}]},
    )
    await client.post(f"/v1/orders/{cancelled['id']}/status", json={"status": "cancelled"})
    for status in ("paid", "refunded"):
        await client.post(f"/v1/orders/{refunded['id']}/status", json={"status": status})

    summary = (await client.get(f"/v1/customers/{customer}/orders/summary")).json()
    assert summary == {
        "customer_id": customer,
        "order_count": 3,
        "cancelled_count": 1,
        "currency": "EUR",
        "net_revenue": "39.98",
        "average_order_value": "13.33",
        "first_order_at": _at(1),
        "last_order_at": _at(6),
        "by_currency": [
            {
                "currency": "EUR",
                "order_count": 3,
                "net_revenue": "39.98",
                "average_order_value": "13.33",
                "first_order_at": _at(1),
                "last_order_at": _at(6),
            }
        ],
    }


async def test_summary_per_currency_when_they_are_mixed(
    client: httpx.AsyncClient, new_customer, new_product, place_order
) -> None:
    customer = await new_customer()
    euro = await new_product(price="10.00")
    yen = await new_product(price="1000", currency="JPY")
    await place_order(customer, euro, placed_at=_at(2))
    await place_order(customer, euro, quantity=2, placed_at=_at(5))
    await place_order(customer, yen, placed_at=_at(3), currency="JPY")
    summary = (await client.get(f"/v1/customers/{customer}/orders/summary")).json()
    assert summary["order_count"] == 3
    assert summary["currency"] is None
    assert summary["net_revenue"] is None
    assert summary["average_order_value"] is None
    assert (summary["first_order_at"], summary["last_order_at"]) == (_at(2), _at(5))
    assert [
        (c["currency"], c["order_count"], c["net_revenue"], c["average_order_value"])
        for c in summary["by_currency"]
    ] == [("EUR", 2, "30.00", "15.00"), ("JPY", 1, "1000", "1000")]


async def test_a_customer_without_orders_has_an_empty_summary(client: httpx.AsyncClient) -> None:
    customer = str(uuid.uuid4())
    summary = (await client.get(f"/v1/customers/{customer}/orders/summary")).json()
    assert summary == {
        "customer_id": customer,
        "order_count": 0,
        "cancelled_count": 0,
        "currency": None,
        "net_revenue": None,
        "average_order_value": None,
        "first_order_at": None,
        "last_order_at": None,
        "by_currency": [],
    }
