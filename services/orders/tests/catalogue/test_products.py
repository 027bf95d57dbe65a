"""Create, read, change and retire products."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from crm_orders.catalogue.repository import products
from crm_orders.database import PRODUCT_FEED, feed_counter
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows


async def _feed_position(database: Database, product_id: str) -> int:
    async with database.engine.connect() as connection:
        statement = select(products.c.change_position).where(products.c.id == uuid.UUID(product_id))
        return int((await connection.execute(statement)).scalar_one())


async def test_create_normalises_and_reads_back(client: httpx.AsyncClient) -> None:
    payload = {
        "sku": "  KNIFE-20 ",
        "name": " Chef's knife ",
        "description": "Forged.\nDishwasher safe: no.",
        "category_path": " Home / Kitchen  Tools//Knives/ ",
        "brand": "Wüsthof",
        "price": 49.999,
        "currency": "eur",
        "attributes": {"blade_cm": 20, "colours": ["black", "red"]},
    }
    created = await client.post("/v1/products", json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["sku"] == "KNIFE-20"
    assert body["name"] == "Chef's knife"
    assert body["category_path"] == "home/kitchen tools/knives"
    assert body["price"] == "50.00"
    assert body["currency"] == "EUR"
    assert body["active"] is True
    assert body["in_stock"] is True
    assert body["attributes"] == {"blade_cm": 20, "colours": ["black", "red"]}
    assert body["created_at"].endswith("Z")

    assert (await client.get(f"/v1/products/{body['id']}")).json() == body
    assert (await client.get("/v1/products/by-sku/KNIFE-20")).json() == body
    assert_problem(await client.get("/v1/products/by-sku/knife-20"), 404, "product-not-found")


async def test_skus_with_slashes_and_spaces_are_found(
    client: httpx.AsyncClient, new_product
) -> None:
    for sku in ("DOT/COM 10", "BANK CHARGES", "gift_0001_40"):
        product = await new_product(sku=sku)
        found = await client.get(f"/v1/products/by-sku/{quote(sku, safe='')}")
        assert found.status_code == 200, found.text
        assert found.json()["id"] == product["id"]


@pytest.mark.parametrize(
    ("currency", "given", "stored"),
    [("JPY", "1500.5", "1501"), ("KWD", "1.2345", "1.235"), ("USD", "0.005", "0.01")],
)
async def test_prices_round_half_up_to_the_currency(
    client: httpx.AsyncClient, currency: str, given: str, stored: str
) -> None:
    response = await client.post(
        "/v1/products", json={"sku": "P", "name": "P", "price": given, "currency": currency}
    )
    assert response.status_code == 201, response.text
    assert response.json()["price"] == stored


async def test_sku_is_unique_and_case_sensitive(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="85123A")
    again = await client.post(
        "/v1/products", json={"sku": "85123A", "name": "x", "price": 1, "currency": "GBP"}
    )
    assert_problem(again, 409, "product-exists")
    lower = await client.post(
        "/v1/products", json={"sku": "85123a", "name": "x", "price": 1, "currency": "GBP"}
    )
    assert lower.status_code == 201
    assert await count_rows(database, "products") == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "-1"}, "body.price"),
        ({"price": "NaN"}, "body.price"),
        ({"price": "1e20"}, "body.price"),
        ({"currency": "EURO"}, "body.currency"),
        ({"currency": "XAU"}, "body.currency"),
        ({"sku": ""}, "body.sku"),
        ({"sku": "a\nb"}, "body.sku"),
        ({"name": "x" * 201}, "body.name"),
        ({"category_path": "///"}, "body.category_path"),
        ({"category_path": "/".join("abcdefghijk")}, "body.category_path"),
        ({"attributes": {f"k{i}": i for i in range(101)}}, "body.attributes"),
        ({"attributes": {"blob": "x" * 17_000}}, "body.attributes"),
        ({"attributes": [1, 2]}, "body.attributes"),
        ({"colour": "red"}, "body.colour"),
    ],
)
async def test_invalid_products_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database, change: dict, field: str
) -> None:
    payload = {"sku": "OK-1", "name": "Fine", "price": "1.00", "currency": "EUR", **change}
    problem = assert_problem(await client.post("/v1/products", json=payload), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await count_rows(database, "products") == 0


async def test_patch_changes_given_fields_and_moves_the_product_in_the_feed(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    product = await new_product(brand="Acme", category_path="toys")
    before = await _feed_position(database, product["id"])
    response = await client.patch(
        f"/v1/products/{product['id']}",
        json={"name": "Renamed", "brand": None, "price": "12.345", "in_stock": False},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["brand"] is None
    assert body["price"] == "12.35"
    assert body["in_stock"] is False
    assert body["category_path"] == "toys"
    assert body["updated_at"] > product["updated_at"]
    after = await _feed_position(database, product["id"])
    assert after > before

    unchanged = await client.patch(f"/v1/products/{product['id']}", json={"name": "Renamed"})
    assert unchanged.json()["updated_at"] == body["updated_at"]
    assert await _feed_position(database, product["id"]) == after


async def test_patch_currency_needs_a_price_and_prices_round_to_it(
    client: httpx.AsyncClient, new_product
) -> None:
    product = await new_product(price="12.50")
    alone = await client.patch(f"/v1/products/{product['id']}", json={"currency": "JPY"})
    assert_problem(alone, 422, "validation-error")
    both = await client.patch(
        f"/v1/products/{product['id']}", json={"currency": "JPY", "price": "1999.5"}
    )
    assert both.json()["price"] == "2000"
    assert both.json()["currency"] == "JPY"


async def test_patch_refusals(client: httpx.AsyncClient, new_product) -> None:
    taken = await new_product(sku="TAKEN")
    product = await new_product()
    path = f"/v1/products/{product['id']}"
    assert_problem(await client.patch(path, json={"sku": "TAKEN"}), 409, "product-exists")
    assert_problem(await client.patch(path, json={}), 422, "validation-error")
    assert_problem(await client.patch(path, json={"name": None}), 422, "validation-error")
    assert_problem(await client.patch(path, json={"price": None}), 422, "validation-error")
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(
        await client.patch(f"/v1/products/{missing}", json={"name": "x"}), 404, "product-not-found"
    )
    assert (await client.get(path)).json() == product
    assert (await client.get(f"/v1/products/{taken['id']}")).json() == taken


async def test_delete_retires_the_product_and_keeps_it_readable(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    product = await new_product()
    path = f"/v1/products/{product['id']}"
    assert (await client.delete(path)).status_code == 204
    retired = (await client.get(path)).json()
    assert retired["active"] is False
    position = await _feed_position(database, product["id"])
    assert (await client.delete(path)).status_code == 204
    assert await _feed_position(database, product["id"]) == position
    revived = await client.patch(path, json={"active": True})
    assert revived.json()["active"] is True
    assert await count_rows(database, "products") == 1
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await client.delete(f"/v1/products/{missing}"), 404, "product-not-found")


async def test_every_change_takes_a_new_position_of_the_products_feed(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    first = await new_product()
    second = await new_product()
    positions = [
        await _feed_position(database, first["id"]),
        await _feed_position(database, second["id"]),
    ]
    await client.patch(f"/v1/products/{first['id']}", json={"name": "again"})
    positions.append(await _feed_position(database, first["id"]))
    assert positions == sorted(set(positions))
    async with database.engine.connect() as connection:
        counter = await connection.execute(
            select(feed_counter.c.position).where(feed_counter.c.feed == PRODUCT_FEED)
        )
        assert counter.scalar_one() == positions[-1]


async def test_idempotency_key_replays_the_first_product(
    client: httpx.AsyncClient, database: Database
) -> None:
    headers = {"Idempotency-Key": "product-1"}
    payload = {"sku": "A", "name": "A", "price": "1", "currency": "EUR"}
    first = await client.post("/v1/products", json=payload, headers=headers)
    second = await client.post("/v1/products", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/products", json={**payload, "sku": "B"}, headers=headers)
    assert_problem(other, 409, "idempotency-key-reused")
    assert await count_rows(database, "products") == 1


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await client.get(f"/v1/products/{missing}"), 404, "product-not-found")
    assert_problem(await client.get("/v1/products/not-a-uuid"), 422, "validation-error")
