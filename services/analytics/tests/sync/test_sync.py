"""The copies: pulled incrementally from the real source services, changes applied as they
come (refunds, cancellations, merges, deletions, erasures)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from crm_analytics.runs.models import customer_scores
from crm_analytics.segments.models import segment_members
from crm_analytics.sync.models import customer_tags, customers, order_lines
from crm_analytics.sync.service import sync_all
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows


async def _sync(app: FastAPI, database: Database) -> dict[str, int]:
    report = await sync_all(database, app.state.sources, batch_lines=3)
    assert all(feed.ok for feed in report.feeds), report
    return {feed.feed: feed.lines for feed in report.feeds}


async def test_each_pull_reads_only_the_changes_since_the_last(
    app: FastAPI, database: Database, shop: Any
) -> None:
    ada, bob = await shop.customer(), await shop.customer()
    for days in (5, 15, 25, 35):
        await shop.order(ada, days_ago=days)
    await shop.order(bob, days_ago=3)

    assert await _sync(app, database) == {
        "customers": 2,
        "order_lines": 5,
        "interactions": 0,
        "tickets": 0,
    }
    assert await count_rows(database, "order_lines") == 5
    assert await count_rows(database, "customers") == 2

    await shop.order(bob, days_ago=1)
    await shop.update(ada, locale="de-DE")
    assert await _sync(app, database) == {
        "customers": 1,
        "order_lines": 1,
        "interactions": 0,
        "tickets": 0,
    }
    assert await _sync(app, database) == {
        "customers": 0,
        "order_lines": 0,
        "interactions": 0,
        "tickets": 0,
    }
    async with database.engine.connect() as db:
        locale = await db.scalar(select(customers.c.locale).where(customers.c.id == uuid.UUID(ada)))
    assert locale == "de-DE"
    assert await count_rows(database, "order_lines") == 6


async def test_refunds_and_cancellations_reach_the_copy_and_the_scores(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, scoring: Any
) -> None:
    ada = await shop.customer()
    kept = await shop.order(ada, days_ago=20, amount="30.00", quantity=3)
    cancelled = await shop.order(ada, days_ago=10, amount="50.00", paid=False)
    refunded = await shop.order(ada, days_ago=5, amount="40.00")
    await shop.refund(kept, quantity=1)
    await shop.set_status(cancelled["id"], "cancelled")
    await shop.set_status(refunded["id"], "refunded")

    await scoring.run()

    async with database.engine.connect() as db:
        rows = {str(row.order_id): row for row in (await db.execute(select(order_lines))).all()}
    assert rows[kept["id"]].refunded_quantity == 1
    assert float(rows[kept["id"]].refunded_amount) == 10.0
    assert rows[cancelled["id"]].order_status == "cancelled"
    assert rows[refunded["id"]].order_status == "refunded"
    scores = (await client.get(f"/v1/customers/{ada}/scores")).json()
    assert scores["frequency"] == 1
    assert scores["monetary"] == 20.0
    assert scores["quantity"] == 2


async def test_a_merged_customer_s_orders_count_for_the_survivor(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, scoring: Any
) -> None:
    survivor, duplicate, third = (
        await shop.customer(),
        await shop.customer(),
        await shop.customer(),
    )
    await shop.order(survivor, days_ago=40, amount="10.00")
    await shop.order(duplicate, days_ago=20, amount="15.00")
    await shop.order(duplicate, days_ago=2, amount="5.00")
    await shop.order(third, days_ago=60, amount="7.00")
    await scoring.run()
    assert (await client.get(f"/v1/customers/{duplicate}/scores")).json()["frequency"] == 2

    await shop.merge(survivor, duplicate)
    await scoring.run()

    merged = await client.get(f"/v1/customers/{survivor}/scores")
    assert merged.json()["frequency"] == 3
    assert merged.json()["monetary"] == 30.0
    assert merged.json()["recency_days"] == 2
    assert_problem(await client.get(f"/v1/customers/{duplicate}/scores"), 404, "scores-not-found")
    async with database.engine.connect() as db:
        row = (
            await db.execute(select(customers).where(customers.c.id == uuid.UUID(duplicate)))
        ).one()
    assert row.status == "merged"
    assert row.merged_into == uuid.UUID(survivor)
    assert row.email is None


async def test_erasure_removes_the_customer_from_the_copy_scores_and_segments(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, scoring: Any
) -> None:
    erased = await shop.customer(tags=["vip"], address={"city": "Berlin", "country": "DE"})
    kept = await shop.customer()
    await shop.order(erased, days_ago=3, amount="99.00")
    await shop.order(kept, days_ago=3, amount="11.00")
    first = await scoring.run()
    assert (await client.get(f"/v1/customers/{erased}/scores")).status_code == 200

    await shop.erase(erased)
    await _sync(app, database)

    erased_id = uuid.UUID(erased)
    async with database.engine.connect() as db:
        row = (await db.execute(select(customers).where(customers.c.id == erased_id))).one()
        scores = await db.scalar(
            select(customer_scores.c.customer_id).where(customer_scores.c.customer_id == erased_id)
        )
        member = await db.scalar(
            select(segment_members.c.run_id).where(segment_members.c.customer_id == erased_id)
        )
        tags = await db.scalar(
            select(customer_tags.c.tag).where(customer_tags.c.customer_id == erased_id)
        )
    assert row.status == "erased"
    assert (row.email, row.first_name, row.city, row.country) == (None, None, None, None)
    assert (scores, member, tags) == (None, None, None)
    assert_problem(await client.get(f"/v1/customers/{erased}/scores"), 404)

    second = await scoring.run()
    assert second["customers_scored"] == first["customers_scored"] - 1
    listed = (await client.get("/v1/scores")).json()["items"]
    assert [item["customer_id"] for item in listed] == [kept]


async def test_a_deleted_customer_loses_personal_attributes_and_leaves_the_lists(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, scoring: Any
) -> None:
    deleted = await shop.customer(first_name="Ada", phone="+49301234567")
    await shop.order(deleted, days_ago=3)
    await scoring.run()
    await shop.delete(deleted)
    await _sync(app, database)

    async with database.engine.connect() as db:
        row = (
            await db.execute(select(customers).where(customers.c.id == uuid.UUID(deleted)))
        ).one()
    assert (row.status, row.first_name, row.phone, row.email) == ("deleted", None, None, None)
    assert_problem(await client.get(f"/v1/customers/{deleted}/scores"), 404)
    assert (await client.get("/v1/scores")).json()["items"] == []
    members = await client.get("/v1/segments/tier-high/members", params={"consent": "any"})
    assert members.json()["items"] == []
