"""Placing orders: totals, the customer check against the real customer service, refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import pytest
from fastapi import FastAPI

from crm_orders.main import create_app
from crm_orders.settings import OrdersSettings
from crm_shared.db import Database
from crm_shared.testing import assert_problem, client_for, count_rows, free_port, running_app

ORDER_TABLES = ("orders", "order_lines", "order_status_changes", "idempotency_keys")


async def _nothing_stored(database: Database) -> None:
    for table in ORDER_TABLES:
        assert await count_rows(database, table) == 0, table


async def test_totals_are_exact_decimals(
    client: httpx.AsyncClient, new_customer, new_product
) -> None:
    customer = await new_customer()
    mug = await new_product(sku="MUG", price="19.99")
    await new_product(sku="PEN", price="0.10")
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "external_ref": "shop-1001",
            "channel": "app",
            "currency": "eur",
            "placed_at": "2026-01-02T03:04:05+01:00",
            "lines": [
                {"product_id": mug["id"], "quantity": 3, "discount": "0.01"},
                {"sku": "PEN", "quantity": 3},
                {"sku": "PEN", "quantity": 1, "unit_price": 0.1 + 0.2},
            ],
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending"
    assert order["currency"] == "EUR"
    assert order["channel"] == "app"
    assert order["placed_at"] == "2026-01-02T02:04:05Z"
    assert [line["line_total"] for line in order["lines"]] == ["59.96", "0.30", "0.30"]
    assert [line["unit_price"] for line in order["lines"]] == ["19.99", "0.10", "0.30"]
    assert [line["line_number"] for line in order["lines"]] == [1, 2, 3]
    assert [line["sku"] for line in order["lines"]] == ["MUG", "PEN", "PEN"]
    assert order["subtotal"] == "60.57"
    assert order["discount_total"] == "0.01"
    assert order["total"] == "60.56"
    assert order["refunded_total"] == "0.00"
    assert order["status_history"] == [
        {"from_status": None, "to_status": "pending", "at": order["created_at"]}
    ]
    assert order["refunds"] == []
    assert (await client.get(f"/v1/orders/{order['id']}")).json() == order


async def test_jpy_has_no_minor_unit(client: httpx.AsyncClient, new_customer, new_product) -> None:
    customer = await new_customer()
    tea = await new_product(price="1500", currency="JPY")
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "channel": "store",
            "currency": "JPY",
            "lines": [
                {"product_id": tea["id"], "quantity": 3, "discount": "99.5"},
                {"product_id": tea["id"], "quantity": 1, "unit_price": "333.4"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["subtotal"], order["discount_total"], order["total"]) == ("4833", "100", "4733")
    assert [line["line_total"] for line in order["lines"]] == ["4400", "333"]


async def test_three_decimal_currencies(
    client: httpx.AsyncClient, new_customer, new_product
) -> None:
    customer = await new_customer()
    dates = await new_product(price="1.2345", currency="KWD")
    order = (
        await client.post(
            "/v1/orders",
            json={
                "customer_id": customer,
                "channel": "web",
                "currency": "KWD",
                "lines": [{"product_id": dates["id"], "quantity": 7}],
            },
        )
    ).json()
    assert (order["lines"][0]["unit_price"], order["total"]) == ("1.235", "8.645")


async def test_unknown_customer_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    product = await new_product()
    stranger = str(uuid.uuid4())
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": stranger,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": product["id"], "quantity": 1}],
        },
        headers={"Idempotency-Key": "stranger-1"},
    )
    problem = assert_problem(response, 422, "customer-not-found")
    assert problem["customer_id"] == stranger
    await _nothing_stored(database)


async def test_a_customer_created_after_a_miss_is_found(
    client: httpx.AsyncClient, customer_api: httpx.AsyncClient, new_product
) -> None:
    """Misses are not remembered: a customer created a moment later can order at once."""
    product = await new_product()
    created = await customer_api.post("/v1/customers", json={"external_ref": uuid.uuid4().hex})
    customer = created.json()["id"]
    await customer_api.delete(f"/v1/customers/{customer}")
    order = {
        "customer_id": customer,
        "channel": "web",
        "currency": "EUR",
        "lines": [{"product_id": product["id"], "quantity": 1}],
    }
    assert_problem(await client.post("/v1/orders", json=order), 422, "customer-not-found")
    fresh = await customer_api.post("/v1/customers", json={"email": f"{uuid.uuid4().hex}@x.io"})
    order["customer_id"] = fresh.json()["id"]
    assert (await client.post("/v1/orders", json=order)).status_code == 201


@pytest.fixture
async def unreachable_customers(settings: OrdersSettings, database: Database):
    """An orders app on the same database whose customer service is a closed port."""
    closed = settings.model_copy(update={"customer_url": f"http://127.0.0.1:{free_port()}"})
    async with running_app(create_app(closed)) as app:
        yield app


async def test_unreachable_customer_service_is_a_503_and_nothing_is_stored(
    unreachable_customers: FastAPI, database: Database, new_product
) -> None:
    product = await new_product()
    async with client_for(unreachable_customers) as client:
        response = await client.post(
            "/v1/orders",
            json={
                "customer_id": str(uuid.uuid4()),
                "channel": "web",
                "currency": "EUR",
                "lines": [{"product_id": product["id"], "quantity": 1}],
            },
            headers={"Idempotency-Key": "down-1"},
        )
    assert_problem(response, 503, "customer-service-unavailable")
    assert response.headers["retry-after"] == "1"
    await _nothing_stored(database)


async def test_lines_naming_unusable_products_are_refused_each_by_name(
    client: httpx.AsyncClient, database: Database, new_customer, new_product
) -> None:
    customer = await new_customer()
    fine = await new_product(sku="FINE")
    retired = await new_product(sku="RETIRED")
    await client.delete(f"/v1/products/{retired['id']}")
    await new_product(sku="DOLLARS", currency="USD")
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "channel": "web",
            "currency": "EUR",
            "lines": [
                {"product_id": fine["id"], "quantity": 1},
                {"sku": "NOPE", "quantity": 1},
                {"product_id": str(uuid.uuid4()), "quantity": 1},
                {"sku": "RETIRED", "quantity": 1},
                {"sku": "DOLLARS", "quantity": 1},
                {"sku": "FINE", "quantity": 2, "unit_price": "1.00", "discount": "2.01"},
            ],
        },
    )
    problem = assert_problem(response, 422, "order-lines-invalid")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("lines.1.sku", "product_not_found"),
        ("lines.2.product_id", "product_not_found"),
        ("lines.3.sku", "product_inactive"),
        ("lines.4.unit_price", "currency_mismatch"),
        ("lines.5.discount", "discount_too_large"),
    ]
    await _nothing_stored(database)


async def test_a_product_in_another_currency_sells_at_an_explicit_price(
    client: httpx.AsyncClient, new_customer, new_product
) -> None:
    customer = await new_customer()
    dollars = await new_product(currency="USD", price="10.00")
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": dollars["id"], "quantity": 2, "unit_price": "9.20"}],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["total"] == "18.40"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "body.lines"),
        ({"lines": [{"sku": "A", "quantity": 0}]}, "body.lines.0.quantity"),
        ({"lines": [{"sku": "A", "quantity": 1, "discount": "-1"}]}, "body.lines.0.discount"),
        ({"lines": [{"quantity": 1}]}, "body.lines.0"),
        ({"lines": [{"sku": "A", "product_id": str(uuid.uuid4()), "quantity": 1}]}, "body.lines.0"),
        ({"lines": [{"sku": "A", "quantity": 1}] * 501}, "body.lines"),
        ({"currency": "EURO"}, "body.currency"),
        ({"channel": "phone"}, "body.channel"),
        ({"placed_at": "2020-01-01T00:00:00"}, "body.placed_at"),
        ({"placed_at": "2999-01-01T00:00:00Z"}, "body.placed_at"),
        ({"customer_id": "nope"}, "body.customer_id"),
        ({"status": "paid"}, "body.status"),
    ],
)
async def test_malformed_orders_are_refused(
    client: httpx.AsyncClient, database: Database, change: dict, field: str
) -> None:
    payload = {
        "customer_id": str(uuid.uuid4()),
        "channel": "web",
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1}],
        **change,
    }
    problem = assert_problem(await client.post("/v1/orders", json=payload), 422, "validation-error")
    assert field in [error["field"] for error in problem["errors"]], problem
    await _nothing_stored(database)


async def test_an_order_too_large_to_store_is_refused(
    client: httpx.AsyncClient, database: Database, new_customer, new_product
) -> None:
    customer = await new_customer()
    product = await new_product(price="99999999999")
    response = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": product["id"], "quantity": 2000}],
        },
    )
    problem = assert_problem(response, 422, "order-lines-invalid")
    assert problem["errors"][0]["code"] == "amount_too_large"
    await _nothing_stored(database)


async def test_external_ref_is_unique(
    client: httpx.AsyncClient, database: Database, new_customer, new_product, place_order
) -> None:
    customer = await new_customer()
    product = await new_product()
    first = await place_order(customer, product, external_ref="shop-1")
    again = await client.post(
        "/v1/orders",
        json={
            "customer_id": customer,
            "external_ref": "shop-1",
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": product["id"], "quantity": 5}],
        },
    )
    problem = assert_problem(again, 409, "order-exists")
    assert problem["order_id"] == first["id"]
    assert await count_rows(database, "orders") == 1


def _order(customer: str, product: dict, quantity: int = 1) -> dict:
    return {
        "customer_id": customer,
        "channel": "web",
        "currency": "EUR",
        "lines": [{"product_id": product["id"], "quantity": quantity}],
    }


async def test_a_retry_with_the_idempotency_key_returns_the_first_order(
    client: httpx.AsyncClient, database: Database, new_customer, new_product
) -> None:
    customer = await new_customer()
    product = await new_product()
    headers = {"Idempotency-Key": "order-1"}
    first = await client.post("/v1/orders", json=_order(customer, product), headers=headers)
    second = await client.post("/v1/orders", json=_order(customer, product), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/orders", json=_order(customer, product, 2), headers=headers)
    assert_problem(other, 409, "idempotency-key-reused")
    assert await count_rows(database, "orders") == 1
    assert await count_rows(database, "order_lines") == 1


async def test_concurrent_retries_place_exactly_one_order(
    client: httpx.AsyncClient, database: Database, new_customer, new_product
) -> None:
    customer = await new_customer()
    product = await new_product()
    headers = {"Idempotency-Key": "order-concurrent"}
    responses = await asyncio.gather(
        *(
            client.post("/v1/orders", json=_order(customer, product), headers=headers)
            for _ in range(5)
        )
    )
    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum("idempotent-replayed" in response.headers for response in responses) == 4
    assert await count_rows(database, "orders") == 1


async def test_placed_at_defaults_to_now(
    client: httpx.AsyncClient, new_customer, new_product, place_order
) -> None:
    before = dt.datetime.now(dt.UTC)
    order = await place_order(await new_customer(), await new_product())
    placed = dt.datetime.fromisoformat(order["placed_at"])
    assert before <= placed <= dt.datetime.now(dt.UTC)


async def test_unknown_and_malformed_order_ids(client: httpx.AsyncClient) -> None:
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await client.get(f"/v1/orders/{missing}"), 404, "order-not-found")
    assert_problem(await client.get("/v1/orders/not-a-uuid"), 422, "validation-error")
