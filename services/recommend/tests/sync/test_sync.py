"""Sync copies the orders feeds and forgets the customers the customer service lets go."""

from __future__ import annotations

from typing import Any

import httpx

from crm_shared.db import Database
from crm_shared.testing import count_rows


async def test_sync_copies_catalogue_orders_and_interactions(shop: Any, database: Database) -> None:
    customer = await shop.customer()
    cups, pot = await shop.product(), await shop.product()
    await shop.order(customer, cups, pot)
    await shop.interact(customer, pot, "view")
    await shop.interact(customer, cups, "rating", rating=5)

    report = await shop.sync()

    lines = {pull["feed"]: pull["lines"] for pull in report["feeds"]}
    assert lines["products"] == 2
    assert lines["order_lines"] == 2
    assert lines["interactions"] == 2
    assert report["failed"] == []
    assert await count_rows(database, "products") == 2
    assert await count_rows(database, "order_lines") == 2
    assert await count_rows(database, "interactions") == 2


async def test_sync_is_incremental(shop: Any, database: Database) -> None:
    customer = await shop.customer()
    product = await shop.product()
    await shop.interact(customer, product)
    await shop.sync()

    await shop.interact(customer, product)
    report = await shop.sync()

    lines = {pull["feed"]: pull["lines"] for pull in report["feeds"]}
    assert lines["interactions"] == 1
    assert lines["products"] == 0
    assert await count_rows(database, "interactions") == 2


async def test_a_source_down_leaves_the_copy_and_reports_it(
    shop: Any, app: Any, database: Database
) -> None:
    customer = await shop.customer()
    product = await shop.product()
    await shop.interact(customer, product)
    await shop.sync()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("orders is down", request=request)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://orders.test"
    ) as down:
        app.state.sources.orders = down
        report = await shop.sync()

    assert set(report["failed"]) == {"products", "order_lines", "interactions"}
    assert await count_rows(database, "interactions") == 1


async def test_erased_customer_is_forgotten(shop: Any, database: Database) -> None:
    kept, erased = await shop.customer(), await shop.customer()
    product = await shop.product()
    for customer in (kept, erased):
        await shop.order(customer, product)
        await shop.interact(customer, product)
    await shop.sync()

    response = await shop.customers.post(
        f"/v1/customers/{erased}/erase", json={"reason": "GDPR request", "requested_by": "dpo"}
    )
    assert response.status_code == 200, response.text
    report = await shop.sync()

    assert report["forgotten_customers"] == 1
    assert await count_rows(database, "interactions") == 1
    assert await count_rows(database, "order_lines") == 1
    assert await count_rows(database, "forgotten_customers") == 1


async def test_merged_customer_history_moves_to_the_survivor(shop: Any, database: Database) -> None:
    survivor, duplicate = await shop.customer(), await shop.customer()
    product = await shop.product()
    await shop.interact(duplicate, product, "wishlist")
    await shop.sync()

    response = await shop.customers.post(
        f"/v1/customers/{survivor}/merge", json={"duplicate_id": duplicate}
    )
    assert response.status_code == 200, response.text
    await shop.sync()
    await shop.interact(duplicate, product, "view")
    await shop.sync()

    async with database.engine.connect() as db:
        from sqlalchemy import text

        owners = (await db.execute(text("SELECT customer_id FROM interactions"))).scalars().all()
    assert {str(owner).replace("-", "") for owner in owners} == {survivor.replace("-", "")}
    assert len(owners) == 2
