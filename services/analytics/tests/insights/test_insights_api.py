"""Insights through the API after real runs: basket rules and bought-together from
orders put in through the orders service, referral influence from the customer service's
referrals, segment rules on referral fields, and the copies refilled after the upgrade."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from crm_analytics.database import CUSTOMERS_FEED, ORDER_LINES_FEED, sync_cursors
from crm_analytics.insights.models import customer_referrals
from crm_analytics.main import create_app
from crm_analytics.sync.models import order_lines
from crm_shared.testing import assert_problem

NOW = dt.datetime.now(dt.UTC)


async def _products(shop: Any, *names: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name in names:
        response = await shop.orders.post(
            "/v1/products",
            json={"sku": name.upper(), "name": name, "price": "10.00", "currency": "EUR"},
        )
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids


async def _basket(
    shop: Any, customer_id: str, product_ids: list[str], *, status: str = "paid"
) -> dict[str, Any]:
    response = await shop.orders.post(
        "/v1/orders",
        json={
            "customer_id": customer_id,
            "channel": "web",
            "currency": "EUR",
            "placed_at": (NOW - dt.timedelta(days=3)).isoformat(),
            "lines": [
                {"product_id": product_id, "quantity": 1, "unit_price": "10.00"}
                for product_id in product_ids
            ],
        },
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    await shop.set_status(order["id"], status)
    return order


def _pairs(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["antecedent_id"], item["consequent_id"]) for item in items]


async def test_a_run_finds_and_serves_basket_rules(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    before = await client.get("/v1/insights/basket-rules")
    assert before.status_code == 200
    assert before.json() == {"items": [], "next_cursor": None}

    p = await _products(shop, "pen", "ink", "pad", "cup")
    buyer = await shop.customer()
    # 10 orders: pen+ink in 4, pad in 5 (with pen in 1), cup in 3 (with pad in 3).
    for _ in range(4):
        await _basket(shop, buyer, [p["pen"], p["ink"]])
    await _basket(shop, buyer, [p["pen"], p["pad"]])
    for _ in range(3):
        await _basket(shop, buyer, [p["pad"], p["cup"]])
    await _basket(shop, buyer, [p["pad"]])
    await _basket(shop, buyer, [p["ink"]])
    # Cancelled orders never count, whatever they hold.
    for _ in range(3):
        await _basket(shop, buyer, [p["pen"], p["cup"]], status="cancelled")

    run = await scoring.run()
    report = run["fit"]["insights"]["basket"]
    assert report["orders"] == 10
    assert report["rules"] == 4

    response = await client.get("/v1/insights/basket-rules")
    assert response.status_code == 200, response.text
    assert response.headers["X-Run-Id"] == run["id"]
    assert "X-Data-Staleness-Seconds" in response.headers
    items = response.json()["items"]
    # pad-cup: lift = (3/10) / ((5/10)(3/10)) = 2; pen-ink: (4/10) / ((5/10)(5/10)) = 1.6.
    assert _pairs(items[:2]) in (
        [(p["pad"], p["cup"]), (p["cup"], p["pad"])],
        [(p["cup"], p["pad"]), (p["pad"], p["cup"])],
    )
    assert [item["lift"] for item in items] == pytest.approx([2.0, 2.0, 1.6, 1.6])
    cup_to_pad = next(item for item in items if item["antecedent_id"] == p["cup"])
    assert cup_to_pad["confidence"] == pytest.approx(1.0)
    assert cup_to_pad["support"] == pytest.approx(0.3)
    assert (cup_to_pad["orders"], cup_to_pad["antecedent_orders"]) == (3, 3)
    assert (p["pen"], p["cup"]) not in _pairs(items)

    by_confidence = (
        await client.get("/v1/insights/basket-rules", params={"sort": "confidence"})
    ).json()["items"]
    assert [item["confidence"] for item in by_confidence] == pytest.approx([1.0, 0.8, 0.8, 0.6])

    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/insights/basket-rules", params=params)).json()
        pages.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == items
    first = (await client.get("/v1/insights/basket-rules", params={"limit": 1})).json()
    assert_problem(
        await client.get(
            "/v1/insights/basket-rules",
            params={"sort": "confidence", "cursor": first["next_cursor"]},
        ),
        400,
        "invalid-cursor",
    )

    filtered = (
        await client.get(
            "/v1/insights/basket-rules", params={"product_id": p["pen"], "min_lift": 1.5}
        )
    ).json()["items"]
    assert _pairs(filtered) == [(p["pen"], p["ink"])]
    assert (await client.get("/v1/insights/basket-rules", params={"min_lift": 1.8})).json()[
        "items"
    ] == items[:2]

    together = await client.get(f"/v1/insights/products/{p['pad']}/bought-together")
    assert together.status_code == 200, together.text
    body = together.json()
    assert (body["product_id"], body["run_id"], body["sort"]) == (p["pad"], run["id"], "confidence")
    assert [item["consequent_id"] for item in body["items"]] == [p["cup"]]
    nothing = await client.get(f"/v1/insights/products/{uuid.uuid4()}/bought-together")
    assert nothing.json()["items"] == []
    assert_problem(await client.get("/v1/insights/products/not-an-id/bought-together"), 422)
    assert_problem(await client.get("/v1/insights/basket-rules", params={"min_confidence": 2}), 422)


async def test_a_run_ranks_referrers_and_segments_can_use_it(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    # root → mid → leaf, root → side; loner referred nobody.
    root = await shop.customer()
    assert (await client.get("/v1/insights/referrals")).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert_problem(await client.get(f"/v1/insights/referrals/{root}"), 404, "referrals-not-found")
    mid = await shop.customer(referred_by=root)
    leaf = await shop.customer(referred_by=mid)
    side = await shop.customer(referred_by=root)
    loner = await shop.customer()
    for customer_id, amount in ((root, "5.00"), (mid, "30.00"), (leaf, "20.00"), (side, "7.00")):
        await shop.order(customer_id, days_ago=2, amount=amount)
    await shop.order(loner, days_ago=2, amount="1.00")
    segment = await client.post(
        "/v1/segments", json={"name": "Networkers", "rule": "referrals_downstream >= 2"}
    )
    assert segment.status_code == 201, segment.text

    run = await scoring.run()
    assert run["fit"]["insights"]["referrals"]["customers"] == 4

    ranking = await client.get("/v1/insights/referrals")
    assert ranking.status_code == 200, ranking.text
    assert ranking.headers["X-Run-Id"] == run["id"]
    items = ranking.json()["items"]
    assert [item["customer_id"] for item in items[:2]] == [root, mid]
    assert {item["customer_id"] for item in items} == {root, mid, leaf, side}

    top = (await client.get(f"/v1/insights/referrals/{root}")).json()
    assert (top["referrals_direct"], top["referrals_downstream"]) == (2, 3)
    assert top["referral_revenue"] == pytest.approx(57.0)
    assert top["referral_influence"] > 1
    middle = (await client.get(f"/v1/insights/referrals/{mid}")).json()
    assert (middle["referrals_downstream"], middle["referral_revenue"]) == (1, 20.0)
    assert_problem(await client.get(f"/v1/insights/referrals/{loner}"), 404, "referrals-not-found")

    members = (await client.get(f"/v1/segments/{segment.json()['id']}/members")).json()
    assert [member["customer_id"] for member in members["items"]] == [root]

    page = (await client.get("/v1/insights/referrals", params={"limit": 2})).json()
    rest = (
        await client.get("/v1/insights/referrals", params={"cursor": page["next_cursor"]})
    ).json()
    assert page["items"] + rest["items"] == items
    by_revenue = (
        await client.get("/v1/insights/referrals", params={"sort": "referral_revenue"})
    ).json()["items"]
    assert [item["referral_revenue"] for item in by_revenue] == [57.0, 20.0, 0.0, 0.0]

    # The middle of the chain is erased: it leaves no trace, its referral starts afresh.
    await shop.erase(mid)
    await scoring.run()
    assert_problem(await client.get(f"/v1/insights/referrals/{mid}"), 404, "referrals-not-found")
    async with app.state.database.engine.connect() as db:
        kept = select(customer_referrals.c.run_id).where(
            customer_referrals.c.customer_id == uuid.UUID(mid)
        )
        assert (await db.execute(kept)).all() == []  # in no run, the earlier one included
    after = (await client.get(f"/v1/insights/referrals/{root}")).json()
    assert (after["referrals_direct"], after["referrals_downstream"]) == (1, 1)
    assert after["referral_revenue"] == pytest.approx(7.0)
    assert_problem(await client.get(f"/v1/insights/referrals/{leaf}"), 404, "referrals-not-found")


async def test_a_run_after_the_upgrade_refills_the_new_columns(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    """What the migration does to a copy made before it (columns empty, cursors at the
    start) is repaired by the next run's pull."""
    p = await _products(shop, "tea", "pot")
    buyer = await shop.customer()
    for _ in range(3):
        await _basket(shop, buyer, [p["tea"], p["pot"]])
    await _basket(shop, buyer, [p["tea"]])
    await scoring.run()
    database = app.state.database
    async with database.writer() as db:
        await db.execute(update(order_lines).values(product_id=None))
        await db.execute(
            update(sync_cursors)
            .where(sync_cursors.c.feed.in_((ORDER_LINES_FEED, CUSTOMERS_FEED)))
            .values(position=0)
        )
    empty = await scoring.run()
    assert empty["fit"]["insights"]["basket"]["orders"] == 4
    async with database.engine.connect() as db:
        products = set((await db.execute(select(order_lines.c.product_id))).scalars())
    assert products == {uuid.UUID(p["tea"]), uuid.UUID(p["pot"])}
    rules = (await client.get("/v1/insights/basket-rules")).json()["items"]
    assert {(item["antecedent_id"], item["consequent_id"]) for item in rules} == {
        (p["tea"], p["pot"]),
        (p["pot"], p["tea"]),
    }


def test_insight_reads_declare_their_freshness_headers() -> None:
    paths = create_app().openapi()["paths"]
    for path in (
        "/v1/insights/basket-rules",
        "/v1/insights/products/{product_id}/bought-together",
        "/v1/insights/referrals",
        "/v1/insights/referrals/{customer_id}",
    ):
        headers = paths[path]["get"]["responses"]["200"]["headers"]
        assert {"X-Run-Id", "X-Data-As-Of", "X-Data-Staleness-Seconds"} <= set(headers), path
