"""The order import: NDJSON orders checked against the real customer service, set-based."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from crm_orders.database import feed_counter
from crm_orders.main import create_app
from crm_orders.orders.repository import order_lines
from crm_orders.settings import OrdersSettings
from crm_shared.db import Database
from crm_shared.testing import (
    ServiceProcess,
    assert_problem,
    client_for,
    count_rows,
    free_port,
    running_app,
)

NDJSON = {"content-type": "application/x-ndjson"}
feed_claims = feed_counter.metadata.tables["feed_claims"]
TABLES = ("orders", "order_lines", "order_status_changes", "refunds", "refund_lines")


def ndjson(*rows: Any) -> bytes:
    return b"".join((row if isinstance(row, bytes) else orjson.dumps(row)) + b"\n" for row in rows)


def order(customer: str, ref: str | None, *lines: dict, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "external_ref": ref,
        "channel": "store",
        "currency": "GBP",
        "placed_at": "2010-12-01T08:26:00Z",
        "lines": list(lines) or [{"sku": "85123A", "quantity": 6}],
        **fields,
    }


async def _import(client: httpx.AsyncClient, body: bytes, **params: str) -> httpx.Response:
    return await client.post("/v1/orders/import", content=body, headers=NDJSON, params=params)


async def _counts(database: Database) -> dict[str, int]:
    return {table: await count_rows(database, table) for table in TABLES}


@pytest.fixture
async def shop(new_customer, new_product) -> dict[str, Any]:
    """Two customers and the products of a few UCI Online Retail rows (in GBP)."""
    await new_product(sku="85123A", price="2.55", currency="GBP")
    await new_product(sku="71053", price="3.39", currency="GBP")
    retired = await new_product(sku="OLD", price="1.00", currency="GBP")
    return {"ada": await new_customer(), "bob": await new_customer(), "retired": retired}


async def test_import_stores_orders_as_placed_with_totals_and_history(
    client: httpx.AsyncClient, database: Database, shop: dict
) -> None:
    await client.delete(f"/v1/products/{shop['retired']['id']}")
    body = ndjson(
        order(
            shop["ada"], "536365", {"sku": "85123A", "quantity": 6}, {"sku": "71053", "quantity": 6}
        ),
        order(
            shop["bob"],
            "536366",
            {"sku": "OLD", "quantity": 2, "discount": "0.5"},
            status="delivered",
        ),
        order(shop["ada"], "C536379", {"sku": "71053", "quantity": 1}, status="refunded"),
        order(shop["bob"], None),
    )
    response = await _import(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 4,
        "inserted": 4,
        "duplicates": 0,
        "rejected": 0,
        "committed": True,
        "errors": [],
        "errors_truncated": False,
    }
    assert await _counts(database) == {
        "orders": 4,
        "order_lines": 5,
        "order_status_changes": 4,
        "refunds": 1,
        "refund_lines": 1,
    }
    orders = {o["external_ref"]: o for o in (await client.get("/v1/orders")).json()["items"]}
    first = orders["536365"]
    assert (first["status"], first["subtotal"], first["total"]) == ("pending", "35.64", "35.64")
    assert first["placed_at"] == "2010-12-01T08:26:00Z"
    assert [line["line_total"] for line in first["lines"]] == ["15.30", "20.34"]
    delivered = (await client.get(f"/v1/orders/{orders['536366']['id']}")).json()
    assert delivered["status"] == "delivered"
    assert delivered["total"] == "1.50"
    assert delivered["status_history"] == [
        {"from_status": None, "to_status": "delivered", "at": "2010-12-01T08:26:00Z"}
    ]
    refunded = (await client.get(f"/v1/orders/{orders['C536379']['id']}")).json()
    assert refunded["refunded_total"] == refunded["total"] == "3.39"
    assert refunded["refunds"][0]["lines"][0]["quantity"] == 1
    assert refunded["lines"][0]["refunded_amount"] == "3.39"

    summary = (await client.get(f"/v1/customers/{shop['ada']}/orders/summary")).json()
    assert (summary["order_count"], summary["net_revenue"]) == (2, "35.64")

    async with database.engine.connect() as connection:
        positions = list(await connection.scalars(select(order_lines.c.change_position)))
    assert sorted(positions) == list(range(1, 6))


async def test_rerunning_an_import_reports_duplicates_and_stores_nothing_twice(
    client: httpx.AsyncClient, database: Database, shop: dict
) -> None:
    body = ndjson(
        order(shop["ada"], "A-1"),
        order(shop["bob"], "A-2"),
        order(shop["bob"], "A-1", {"sku": "71053", "quantity": 1}),
    )
    first = (await _import(client, body)).json()
    assert (first["inserted"], first["duplicates"]) == (2, 1)
    counts = await _counts(database)
    again = (await _import(client, body)).json()
    assert (again["received"], again["inserted"], again["duplicates"]) == (3, 0, 3)
    assert again["errors"] == []
    assert await _counts(database) == counts


async def test_a_rejected_row_does_not_make_a_later_one_a_duplicate(
    client: httpx.AsyncClient, shop: dict
) -> None:
    body = ndjson(
        order(shop["ada"], "R-1", {"sku": "NOPE", "quantity": 1}),
        order(shop["ada"], "R-1"),
    )
    report = (await _import(client, body, on_error="skip")).json()
    assert (report["inserted"], report["duplicates"], report["rejected"]) == (1, 0, 1)


async def test_abort_stores_nothing_and_reports_every_bad_row(
    client: httpx.AsyncClient, database: Database, shop: dict
) -> None:
    stranger = str(uuid.uuid4())
    body = ndjson(
        order(shop["ada"], "OK-1"),
        b'{"customer_id": ',
        order(stranger, "WHO-1"),
        order(shop["ada"], "BAD-SKU", {"sku": "NOPE", "quantity": 1}),
        order(shop["ada"], "BAD-CURRENCY", {"sku": "85123A", "quantity": 1}, currency="EUR"),
        order(shop["ada"], "BAD-STATUS", status="lost"),
    )
    problem = assert_problem(await _import(client, body), 422, "import-rejected")
    report = problem["report"]
    assert (report["received"], report["inserted"], report["rejected"]) == (6, 1, 5)
    assert report["committed"] is False
    assert [(e["row"], e["errors"][0]["field"]) for e in report["errors"]] == [
        (2, "row"),
        (3, "customer_id"),
        (4, "lines.0.sku"),
        (5, "lines.0.unit_price"),
        (6, "status"),
    ]
    assert report["errors"][1]["errors"][0]["code"] == "customer_not_found"
    assert set((await _counts(database)).values()) == {0}


async def test_skip_stores_the_valid_rows(
    client: httpx.AsyncClient, database: Database, shop: dict
) -> None:
    body = ndjson(
        order(shop["ada"], "S-1"), order(str(uuid.uuid4()), "S-2"), order(shop["bob"], "S-3")
    )
    report = (await _import(client, body, on_error="skip")).json()
    assert (report["inserted"], report["rejected"], report["committed"]) == (2, 1, True)
    assert report["errors"][0]["row"] == 2
    assert await count_rows(database, "orders") == 2


async def test_only_ndjson_is_accepted(client: httpx.AsyncClient, shop: dict) -> None:
    response = await client.post(
        "/v1/orders/import",
        content=ndjson(order(shop["ada"], "X")),
        headers={"content-type": "text/csv"},
    )
    assert_problem(response, 415, "unsupported-import-type")


@pytest.fixture
async def unreachable_customers(
    settings: OrdersSettings, database: Database
) -> AsyncIterator[FastAPI]:
    closed = settings.model_copy(update={"customer_url": f"http://127.0.0.1:{free_port()}"})
    async with running_app(create_app(closed)) as app:
        yield app


async def test_unreachable_customer_service_stores_nothing(
    unreachable_customers: FastAPI, database: Database, shop: dict
) -> None:
    async with client_for(unreachable_customers) as client:
        response = await _import(client, ndjson(order(shop["ada"], "D-1")), on_error="skip")
    assert_problem(response, 503, "customer-service-unavailable")
    assert set((await _counts(database)).values()) == {0}


@pytest.fixture
async def small_batches(
    settings: OrdersSettings, customer_service: ServiceProcess, database: Database
) -> AsyncIterator[FastAPI]:
    """An orders app on the same database that writes 100 orders per batch."""
    limited = settings.model_copy(
        update={"customer_url": customer_service.url, "import_batch_size": 100}
    )
    async with running_app(create_app(limited)) as app:
        yield app


async def test_many_batches_with_duplicates_across_them(
    small_batches: FastAPI, database: Database, shop: dict, new_customer
) -> None:
    customers = [shop["ada"], shop["bob"], *[await new_customer() for _ in range(3)]]
    rows = [
        order(customers[i % 5], f"B-{i}", {"sku": "85123A", "quantity": 1 + i % 4})
        for i in range(250)
    ]
    rows.insert(180, order(customers[0], "B-7"))  # a duplicate of a row in the first batch
    async with client_for(small_batches) as client:
        response = await _import(client, ndjson(*rows))
        assert response.status_code == 200, response.text
        report = response.json()
    assert (report["received"], report["inserted"], report["duplicates"]) == (251, 250, 1)
    lines = sum(1 + i % 4 for i in range(250))
    assert await count_rows(database, "order_lines") == 250
    async with database.engine.connect() as connection:
        quantities = await connection.scalars(select(order_lines.c.quantity))
        assert sum(quantities) == lines
        positions = list(await connection.scalars(select(order_lines.c.change_position)))
    assert sorted(positions) == list(range(1, 251))


async def test_a_long_import_blocks_no_single_order_and_readers_wait_for_it(
    small_batches: FastAPI, database: Database, shop: dict
) -> None:
    """While an import's transaction is open, a single order is placed at once (each
    holds the order-lines feed only for the moment it takes positions), and the feed shows
    nothing after the import's positions until the import commits."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has a single writer: a second one waits for the first")
    rows = [order(shop["ada"], f"L-{i}", {"sku": "85123A", "quantity": 1}) for i in range(250)]
    more = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield ndjson(*rows[:150])  # the first batch of 100 is written, then the body stalls
        await more.wait()
        yield ndjson(*rows[150:])

    async def claims() -> int:
        async with database.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(feed_claims)))

    async with client_for(small_batches) as client:
        importing = asyncio.create_task(
            client.post("/v1/orders/import", content=body(), headers=NDJSON)
        )
        for _ in range(200):
            if await claims():
                break
            await asyncio.sleep(0.05)
        assert await claims() == 1
        single = order(shop["bob"], None, {"sku": "71053", "quantity": 2}, placed_at=None)
        try:
            placed = await asyncio.wait_for(client.post("/v1/orders", json=single), 10)
            assert placed.status_code == 201, placed.text
            feed = await client.get("/v1/export/order-lines")
            assert feed.status_code == 200
            assert feed.content == b""  # the placed order's line comes after the import's
        finally:
            more.set()
            response = await asyncio.wait_for(importing, 30)
        assert response.status_code == 200, response.text
        assert response.json()["inserted"] == 250
        lines = [
            orjson.loads(line)
            for line in (await client.get("/v1/export/order-lines")).content.splitlines()
        ]
    positions = [line["position"] for line in lines]
    assert len(lines) == 251
    assert positions == sorted(positions)
    single_line = next(line for line in lines if line["sku"] == "71053")
    first_batch = [
        line["position"]
        for line in lines
        if line["order_external_ref"] in {f"L-{i}" for i in range(100)}
    ]
    assert single_line["position"] > max(first_batch)
    assert await claims() == 0
