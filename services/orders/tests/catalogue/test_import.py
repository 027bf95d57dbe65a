"""The product import: NDJSON upserted by sku, set-based, batch by batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from crm_orders.catalogue.repository import products
from crm_orders.main import create_app
from crm_orders.settings import OrdersSettings
from crm_shared.db import Database
from crm_shared.testing import assert_problem, client_for, count_rows, running_app

NDJSON = {"content-type": "application/x-ndjson"}


def ndjson(*rows: Any) -> bytes:
    return b"".join((row if isinstance(row, bytes) else orjson.dumps(row)) + b"\n" for row in rows)


def product(sku: str, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"Product {sku}", "price": "9.99", "currency": "EUR", **fields}


async def _import(client: httpx.AsyncClient, body: bytes, **params: str) -> httpx.Response:
    return await client.post("/v1/products/import", content=body, headers=NDJSON, params=params)


async def _positions(database: Database) -> dict[str, int]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(select(products.c.sku, products.c.change_position))
        return {row.sku: row.change_position for row in rows}


async def test_import_inserts_updates_and_reruns_change_nothing(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    stored = await new_product(sku="OLD", brand="Acme", category_path="toys")
    body = ndjson(
        product("A", category_path="Home/Kitchen", attributes={"colour": "red"}),
        product("B", price="1.005", active=False),
        {"sku": "OLD", "name": "Old, renamed", "price": "10.00", "currency": "EUR"},
    )
    response = await _import(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 3,
        "inserted": 2,
        "updated": 1,
        "rejected": 0,
        "committed": True,
        "errors": [],
        "errors_truncated": False,
    }
    by_sku = {p["sku"]: p for p in (await client.get("/v1/products")).json()["items"]}
    assert by_sku["A"]["category_path"] == "home/kitchen"
    assert by_sku["A"]["attributes"] == {"colour": "red"}
    assert by_sku["B"]["price"] == "1.01"
    assert by_sku["B"]["active"] is False
    # Omitted fields keep their stored values.
    assert by_sku["OLD"]["name"] == "Old, renamed"
    assert by_sku["OLD"]["brand"] == "Acme"
    assert by_sku["OLD"]["category_path"] == "toys"
    assert by_sku["OLD"]["id"] == stored["id"]

    positions = await _positions(database)
    assert len(set(positions.values())) == 3
    again = await _import(client, body)
    assert again.json()["inserted"] == again.json()["updated"] == 0
    assert await _positions(database) == positions
    assert await count_rows(database, "products") == 3


async def test_null_clears_and_later_rows_about_a_sku_win(
    client: httpx.AsyncClient, new_product
) -> None:
    await new_product(sku="X", brand="Acme", description="old")
    body = ndjson(
        product("X", brand=None, price="5"),
        product("Y", price="1"),
        product("Y", price="2", in_stock=False),
        product("X", price="6"),
    )
    report = (await _import(client, body)).json()
    assert (report["inserted"], report["updated"]) == (1, 1)
    x = (await client.get("/v1/products/by-sku/X")).json()
    y = (await client.get("/v1/products/by-sku/Y")).json()
    assert (x["brand"], x["description"], x["price"]) == (None, "old", "6.00")
    assert (y["price"], y["in_stock"]) == ("2.00", False)


async def test_abort_stores_nothing_and_reports_every_bad_row(
    client: httpx.AsyncClient, database: Database
) -> None:
    body = ndjson(
        product("A"),
        b"{not json",
        product("B", price="-1"),
        b"",
        product("C", currency="XYZ"),
        {"name": "no sku", "price": "1", "currency": "EUR"},
    )
    response = await _import(client, body)
    problem = assert_problem(response, 422, "import-rejected")
    report = problem["report"]
    assert report["received"] == 5
    assert report["rejected"] == 4
    assert report["committed"] is False
    assert [error["row"] for error in report["errors"]] == [2, 3, 4, 5]
    assert report["errors"][1]["errors"][0]["field"] == "price"
    assert report["errors"][2]["errors"][0]["field"] == "currency"
    assert report["errors"][3]["errors"][0]["field"] == "sku"
    assert await count_rows(database, "products") == 0


async def test_skip_stores_the_valid_rows(client: httpx.AsyncClient, database: Database) -> None:
    body = ndjson(product("A"), product("B", price="x"), product("C"))
    response = await _import(client, body, on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["rejected"], report["committed"]) == (2, 1, True)
    assert report["errors"][0]["row"] == 2
    assert await count_rows(database, "products") == 2


async def test_an_empty_body_imports_nothing(client: httpx.AsyncClient) -> None:
    report = (await _import(client, b"\n\n")).json()
    assert (report["received"], report["inserted"], report["committed"]) == (0, 0, True)


async def test_only_ndjson_is_accepted(client: httpx.AsyncClient, database: Database) -> None:
    for content_type in ("text/csv", "application/json", "application/x-ndjson; charset=latin-1"):
        response = await client.post(
            "/v1/products/import",
            content=ndjson(product("A")),
            headers={"content-type": content_type},
        )
        assert_problem(response, 415, "unsupported-import-type")
    assert await count_rows(database, "products") == 0


@pytest.fixture
async def small_batches(settings: OrdersSettings, database: Database) -> AsyncIterator[FastAPI]:
    """An app on the same database that writes 100 rows per batch and takes 250 at most."""
    limited = settings.model_copy(update={"import_batch_size": 100, "import_max_rows": 250})
    async with running_app(create_app(limited)) as app:
        yield app


async def test_many_batches_apply_in_order(small_batches: FastAPI, database: Database) -> None:
    rows = [product(f"S{i}", price=str(i)) for i in range(240)]
    rows.append(product("S5", price="555"))  # a later batch changes a product of the first
    async with client_for(small_batches) as client:
        response = await _import(client, ndjson(*rows))
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["received"], report["inserted"], report["updated"]) == (241, 240, 0)
        assert (await client.get("/v1/products/by-sku/S5")).json()["price"] == "555.00"
    positions = await _positions(database)
    assert len(set(positions.values())) == 240
    # Changed again by the last batch, it moved past every product of the earlier ones.
    assert positions["S5"] > positions["S199"]


async def test_too_many_rows_are_refused_whole(small_batches: FastAPI, database: Database) -> None:
    async with client_for(small_batches) as client:
        response = await _import(client, ndjson(*(product(f"S{i}") for i in range(251))))
        assert_problem(response, 413, "import-too-large")
    assert await count_rows(database, "products") == 0
