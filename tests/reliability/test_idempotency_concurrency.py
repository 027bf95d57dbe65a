"""Many clients retrying order creation at once, each with its `Idempotency-Key`, against
the orders service as a real process on SQLite and on PostgreSQL: exactly one order per
key, every retry answered with that order, and the same key with another body a 409."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from crm_shared.idempotency import REPLAYED_HEADER
from crm_shared.middleware import SERVICE_TOKEN_HEADER
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    assert_problem,
    fresh_postgres_database,
    service_process,
    sqlite_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-idempotency")]
CLIENTS = 20
KEYS = 10
RETRIES = 2  # concurrent sends of the same request by one client
MAX_ATTEMPTS = 5  # sends of one request while the service answers 503
HEADERS = {SERVICE_TOKEN_HEADER: TEST_SERVICE_TOKEN}
READY_TIMEOUT_SECONDS = 180.0


@dataclass
class OrdersStack:
    orders: ServiceProcess
    customer: ServiceProcess
    orders_database_url: str


@pytest.fixture(params=["sqlite", "postgresql"])
def orders_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OrdersStack]:
    """The orders service on the backend under test, and the customer service it asks
    whether customers exist, as real processes."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            database_url = sqlite_url(tmp_path, "orders")
        else:
            admin_url = request.getfixturevalue("postgres_admin_url")
            database_url = stack.enter_context(fresh_postgres_database(admin_url, "crm_rel_idem"))
        customer = stack.enter_context(
            service_process(
                "crm_customer",
                "CUSTOMER_",
                database_url=sqlite_url(tmp_path, "customer"),
                log_dir=tmp_path,
                ready_timeout=READY_TIMEOUT_SECONDS,
                extra_env={"CUSTOMER_LOG_LEVEL": "WARNING"},
            )
        )
        orders = stack.enter_context(
            service_process(
                "crm_orders",
                "ORDERS_",
                database_url=database_url,
                log_dir=tmp_path,
                ready_timeout=READY_TIMEOUT_SECONDS,
                extra_env={"ORDERS_CUSTOMER_URL": customer.url, "ORDERS_LOG_LEVEL": "WARNING"},
            )
        )
        yield OrdersStack(orders, customer, database_url)


async def _count_orders(database_url: str) -> int:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            return int(connection.execute("SELECT count(*) FROM orders").fetchone()[0])
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM orders"))
    finally:
        await connection.close()


async def _send(http: httpx.AsyncClient, order: dict[str, Any], key: str) -> httpx.Response:
    """POST the order as a careful client does: a 503 (nothing stored) is retried."""
    for _ in range(MAX_ATTEMPTS):
        answer = await http.post("/v1/orders", json=order, headers={"Idempotency-Key": key})
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(float(answer.headers.get("retry-after", "0.2")))
    return answer


async def _storm(orders_url: str, customer_url: str) -> None:
    async with httpx.AsyncClient(base_url=customer_url, headers=HEADERS, timeout=60) as http:
        customer = await http.post("/v1/customers", json={"email": "storm@example.com"})
        assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    async with httpx.AsyncClient(base_url=orders_url, headers=HEADERS, timeout=120) as http:
        product = await http.post(
            "/v1/products",
            json={"sku": "STORM-1", "name": "Teapot", "price": "12.50", "currency": "EUR"},
        )
        assert product.status_code == 201, product.text
        # One order without a key first: the orders service then knows the customer exists
        # and the storm below does not also storm the customer service.
        warm_up = await http.post(
            "/v1/orders",
            json={
                "customer_id": customer_id,
                "channel": "web",
                "currency": "EUR",
                "lines": [{"product_id": product.json()["id"], "quantity": 1}],
            },
        )
        assert warm_up.status_code == 201, warm_up.text

    keys = [f"storm-{uuid.uuid4()}" for _ in range(KEYS)]

    def order(n: int) -> dict[str, Any]:
        return {
            "customer_id": customer_id,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": product.json()["id"], "quantity": n + 1}],
        }

    async def client() -> list[tuple[str, httpx.Response]]:
        async with httpx.AsyncClient(base_url=orders_url, headers=HEADERS, timeout=120) as http:
            sends = [
                _send(http, order(n), key) for n, key in enumerate(keys) for _ in range(RETRIES)
            ]
            answers = await asyncio.gather(*sends)
        sent_keys = [key for key in keys for _ in range(RETRIES)]
        return list(zip(sent_keys, answers, strict=True))

    per_client = await asyncio.gather(*(client() for _ in range(CLIENTS)))
    results = [pair for answers in per_client for pair in answers]
    assert len(results) == CLIENTS * KEYS * RETRIES

    orders_by_key: dict[str, set[str]] = defaultdict(set)
    first_answers: dict[str, int] = defaultdict(int)
    for key, answer in results:
        assert answer.status_code == 201, answer.text
        orders_by_key[key].add(answer.json()["id"])
        if answer.headers.get(REPLAYED_HEADER) != "true":
            first_answers[key] += 1
    # One order per key, that every retry was answered with; one of them made it.
    assert {key: len(ids) for key, ids in orders_by_key.items()} == dict.fromkeys(keys, 1)
    assert dict(first_answers) == dict.fromkeys(keys, 1)
    # Each key's order is its own request's: quantities 1..KEYS.
    async with httpx.AsyncClient(base_url=orders_url, headers=HEADERS, timeout=60) as http:
        for n, key in enumerate(keys):
            (order_id,) = orders_by_key[key]
            stored = (await http.get(f"/v1/orders/{order_id}")).json()
            assert [line["quantity"] for line in stored["lines"]] == [n + 1]

        # The same key with another body is refused and stores nothing.
        reused = await http.post(
            "/v1/orders", json=order(KEYS + 5), headers={"Idempotency-Key": keys[0]}
        )
        assert_problem(reused, 409, "idempotency-key-reused")


def test_concurrent_retries_make_exactly_one_order_per_key(orders_stack: OrdersStack) -> None:
    asyncio.run(_storm(orders_stack.orders.url, orders_stack.customer.url))
    # The keyed orders and the warm-up one, nothing more.
    assert asyncio.run(_count_orders(orders_stack.orders_database_url)) == KEYS + 1
