"""Ingest into the orders service on PostgreSQL beside raw asyncpg COPY, then its feeds.

The customer and orders services run as real uvicorn processes on fresh databases. After
loading 20,000 customers and 2,000 products through their import endpoints, the bench

- posts 1,000,000 synthetic interactions to `POST /v1/interactions/batch` (NDJSON batches
  of 20,000, two requests in flight, as a storefront's collectors would send them);
- posts 200,000 orders (about 440,000 lines, a tenth of them cancelled or refunded) to
  `POST /v1/orders/import` (batches of 10,000, one at a time);
- and copies the very same rows, already in their stored form (ids, feed positions,
  totals, status changes, refunds), with asyncpg's `copy_records_to_table` into a third
  database migrated the same way (same indexes and constraints), one transaction per
  batch: no HTTP, parsing, validation, lookups or replay checks.

The service and the raw copy take turns, four batches each, so both meet the same load
of a shared machine and tables of the same size. Then the bench streams the three export
feeds whole and reports their rows/s, beside a raw `COPY (SELECT ...) TO STDOUT` of the
same rows as the floor. Goal for the ingest: at least 0.5x the raw rows/s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

import crm_orders
from bench.common import ADMIN_URL, write_result
from crm_shared.db import create_engine
from crm_shared.ids import uuid7
from crm_shared.migrations import upgrade_to_head
from crm_shared.synthetic import customers as synthetic_customers
from crm_shared.testing import TEST_SERVICE_TOKEN, fresh_postgres_database, service_process

INTERACTIONS = int(os.environ.get("CRM_BENCH_INTERACTIONS", "1000000"))
ORDERS = int(os.environ.get("CRM_BENCH_ORDERS", "200000"))
CUSTOMERS = 20_000
PRODUCTS = 2_000
INTERACTION_BATCH = 20_000
ORDER_BATCH = 10_000
# Interactions batches hold the feed only while they write, so two requests overlap
# (one is parsed while the other writes). An order import is one transaction that
# overlaps reading and writing inside the request (it claims feed positions per batch and
# holds up no other writer); batches go one request at a time.
INTERACTIONS_IN_FLIGHT = 2
ORDERS_IN_FLIGHT = 1
# Batches per turn when the service and raw COPY take turns.
GROUP = 4
SEED = 11
GOAL_RATIO = 0.5
MIGRATIONS = Path(crm_orders.__file__).parent / "migrations"
HEADERS = {"x-service-token": TEST_SERVICE_TOKEN}
NDJSON = {**HEADERS, "content-type": "application/x-ndjson"}
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
KINDS = ("view", "add_to_cart", "remove_from_cart", "wishlist", "rating", "review")
KIND_WEIGHTS = (72, 10, 3, 5, 7, 3)
STATUSES = ("delivered", "shipped", "paid", "pending", "cancelled", "refunded")
STATUS_WEIGHTS = (70, 8, 8, 4, 5, 5)
CHANNELS = ("web", "app", "store")

INTERACTION_COLUMNS = (
    "id event_id kind customer_id session_id product_id rating review_text occurred_at "
    "received_at change_position"
).split()
ORDER_COLUMNS = (
    "id customer_id external_ref status channel currency subtotal discount_total total "
    "refunded_total placed_at created_at updated_at"
).split()
LINE_COLUMNS = (
    "id order_id line_number product_id sku quantity unit_price discount line_total "
    "refunded_quantity refunded_amount change_position"
).split()
STATUS_CHANGE_COLUMNS = ["id", "order_id", "from_status", "to_status", "at"]
REFUND_COLUMNS = ["id", "order_id", "amount", "reason", "created_at"]
REFUND_LINE_COLUMNS = ["refund_id", "order_line_id", "quantity", "amount"]

FEED_QUERIES = {
    "order-lines": "SELECT l.*, o.customer_id, o.status, o.currency, o.channel, o.placed_at, "
    "o.updated_at FROM order_lines l JOIN orders o ON o.id = l.order_id "
    "ORDER BY l.change_position",
    "interactions": "SELECT * FROM interactions ORDER BY change_position",
    "products": "SELECT * FROM products ORDER BY change_position",
}


@dataclass
class Shop:
    customer_ids: list[str]
    products: list[dict[str, Any]]  # as the products feed carries them


@dataclass
class Batch:
    body: bytes
    rows: int
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine, MIGRATIONS, "orders")
    finally:
        await engine.dispose()


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def post(base_url: str, path: str, body: bytes, params: dict[str, str] | None = None) -> Any:
    with httpx.Client(base_url=base_url, timeout=900) as client:
        response = client.post(path, content=body, headers=NDJSON, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"{path} failed: {response.status_code} {response.text[:2000]}")
    return response.json()


def stream_lines(base_url: str, path: str) -> Iterator[bytes]:
    with (
        httpx.Client(base_url=base_url, timeout=900, headers=HEADERS) as client,
        client.stream("GET", path) as response,
    ):
        response.raise_for_status()
        yield from response.iter_lines()


def load_shop(customer_url: str, orders_url: str) -> Shop:
    people = list(synthetic_customers(CUSTOMERS, seed=SEED))
    report = post(customer_url, "/v1/customers/import", ndjson(people))
    if report["inserted"] != CUSTOMERS:
        raise RuntimeError(f"customer import incomplete: {report}")
    customer_ids = [
        orjson.loads(line)["id"]
        for line in stream_lines(customer_url, "/v1/customers/export")
        if line
    ]
    rng = random.Random(SEED)
    catalogue = [
        {
            "sku": f"P-{n:05d}",
            "name": f"Product {n}",
            "category_path": f"dept-{n % 12}/aisle-{n % 40}",
            "brand": f"brand-{n % 30}",
            "price": str(Decimal(rng.randint(199, 19999)) / 100),
            "currency": "EUR",
        }
        for n in range(PRODUCTS)
    ]
    report = post(orders_url, "/v1/products/import", ndjson(catalogue))
    if report["inserted"] != PRODUCTS:
        raise RuntimeError(f"product import incomplete: {report}")
    products = [orjson.loads(line) for line in stream_lines(orders_url, "/v1/export/products")]
    return Shop(customer_ids, products)


def interaction_batches(shop: Shop) -> list[Batch]:
    rng = random.Random(SEED + 1)
    received_at = dt.datetime.now(dt.UTC)
    span = 365 * 24 * 3600
    batches = []
    for first in range(0, INTERACTIONS, INTERACTION_BATCH):
        events: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        for n in range(first, min(first + INTERACTION_BATCH, INTERACTIONS)):
            kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
            product = shop.products[int(rng.paretovariate(1.2)) % PRODUCTS]
            customer = rng.choice(shop.customer_ids) if rng.random() < 0.75 else None
            occurred_at = START + dt.timedelta(seconds=rng.randrange(span))
            rating = rng.randint(1, 5) if kind in ("rating", "review") else None
            text = f"Review {n}: worth it." if kind == "review" else None
            event: dict[str, Any] = {
                "event_id": f"ev-{n:08d}",
                "kind": kind,
                "session_id": f"s-{n // 20}",
                "sku": product["sku"],
                "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
            }
            if customer is not None:
                event["customer_id"] = customer
            if rating is not None:
                event["rating"] = rating
            if text is not None:
                event["review_text"] = text
            events.append(event)
            rows.append(
                (
                    uuid7(),
                    event["event_id"],
                    kind,
                    None if customer is None else uuid.UUID(customer),
                    event["session_id"],
                    uuid.UUID(product["id"]),
                    rating,
                    text,
                    occurred_at,
                    received_at,
                    n + 1,
                )
            )
        batches.append(Batch(ndjson(events), len(events), {"interactions": rows}))
    return batches


def order_batches(shop: Shop) -> list[Batch]:
    rng = random.Random(SEED + 2)
    now = dt.datetime.now(dt.UTC)
    span = 365 * 24 * 3600
    position = 0
    batches = []
    for first in range(0, ORDERS, ORDER_BATCH):
        orders: list[dict[str, Any]] = []
        tables: dict[str, list[tuple[Any, ...]]] = {
            "orders": [],
            "order_lines": [],
            "order_status_changes": [],
            "refunds": [],
            "refund_lines": [],
        }
        for n in range(first, min(first + ORDER_BATCH, ORDERS)):
            status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            customer = rng.choice(shop.customer_ids)
            placed_at = START + dt.timedelta(seconds=rng.randrange(span))
            channel = rng.choice(CHANNELS)
            order_id = uuid7()
            lines = []
            line_rows = []
            for number in range(1, rng.choice((1, 1, 2, 2, 3, 4)) + 1):
                product = shop.products[int(rng.paretovariate(1.2)) % PRODUCTS]
                quantity = rng.randint(1, 3)
                price = Decimal(product["price"])
                discount = Decimal("1.00") if rng.random() < 0.2 else Decimal("0.00")
                lines.append(
                    {"sku": product["sku"], "quantity": quantity, "discount": str(discount)}
                )
                position += 1
                line_rows.append(
                    [
                        uuid7(),
                        order_id,
                        number,
                        uuid.UUID(product["id"]),
                        product["sku"],
                        quantity,
                        price,
                        discount,
                        price * quantity - discount,
                        0,
                        Decimal(0),
                        position,
                    ]
                )
            orders.append(
                {
                    "external_ref": f"bench-{n:07d}",
                    "customer_id": customer,
                    "channel": channel,
                    "currency": "EUR",
                    "placed_at": placed_at.isoformat().replace("+00:00", "Z"),
                    "status": status,
                    "lines": lines,
                }
            )
            subtotal = sum(row[6] * row[5] for row in line_rows)
            discounts = sum(row[7] for row in line_rows)
            total = subtotal - discounts
            refunded = status == "refunded"
            tables["orders"].append(
                (
                    order_id,
                    uuid.UUID(customer),
                    f"bench-{n:07d}",
                    status,
                    channel,
                    "EUR",
                    subtotal,
                    discounts,
                    total,
                    total if refunded else Decimal(0),
                    placed_at,
                    now,
                    now,
                )
            )
            tables["order_status_changes"].append((uuid7(), order_id, None, status, now))
            if refunded:
                refund_id = uuid7()
                tables["refunds"].append((refund_id, order_id, total, "imported", now))
                for row in line_rows:
                    row[9], row[10] = row[5], row[8]
                    tables["refund_lines"].append((refund_id, row[0], row[5], row[8]))
            tables["order_lines"].extend(tuple(row) for row in line_rows)
        batches.append(Batch(ndjson(orders), len(orders), tables))
    return batches


def post_all(
    base_url: str, path: str, batches: list[Batch], params: dict[str, str], in_flight: int
) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        reports = list(pool.map(lambda b: post(base_url, path, b.body, params), batches))
    elapsed = time.perf_counter() - started
    rejected = sum(report["rejected"] for report in reports)
    inserted = sum(report["inserted"] for report in reports)
    if rejected or inserted != sum(batch.rows for batch in batches):
        raise RuntimeError(f"{path}: {inserted=} {rejected=}: {reports[0]}")
    return elapsed


async def raw_copy(url: str, batches: list[Batch]) -> float:
    connection = await asyncpg.connect(_dsn(url))
    columns = {
        "interactions": INTERACTION_COLUMNS,
        "orders": ORDER_COLUMNS,
        "order_lines": LINE_COLUMNS,
        "order_status_changes": STATUS_CHANGE_COLUMNS,
        "refunds": REFUND_COLUMNS,
        "refund_lines": REFUND_LINE_COLUMNS,
    }
    try:
        started = time.perf_counter()
        for batch in batches:
            async with connection.transaction():
                for table, rows in batch.tables.items():
                    if rows:
                        await connection.copy_records_to_table(
                            table, records=rows, columns=columns[table]
                        )
        return time.perf_counter() - started
    finally:
        await connection.close()


def interleaved(
    base_url: str,
    path: str,
    raw_url: str,
    batches: list[Batch],
    params: dict[str, str],
    in_flight: int,
) -> tuple[float, float]:
    """Seconds of the service and of raw COPY for all batches, taken in turns.

    Groups of batches go to the service, then the same groups to raw COPY, and so on:
    both sides meet the same load of a shared machine and the same growing tables.
    """
    ours = raw = 0.0
    for start in range(0, len(batches), GROUP):
        group = batches[start : start + GROUP]
        ours += post_all(base_url, path, group, params, in_flight)
        raw += asyncio.run(raw_copy(raw_url, group))
    return ours, raw


async def copy_products(url: str, products: list[dict[str, Any]]) -> None:
    connection = await asyncpg.connect(_dsn(url))
    now = dt.datetime.now(dt.UTC)
    rows = [
        (
            uuid.UUID(p["id"]),
            p["sku"],
            p["name"],
            p["category_path"],
            p["brand"],
            Decimal(p["price"]),
            p["currency"],
            True,
            True,
            "{}",
            p["position"],
            now,
            now,
        )
        for p in products
    ]
    columns = (
        "id sku name category_path brand price currency active in_stock attributes "
        "change_position created_at updated_at"
    ).split()
    try:
        await connection.copy_records_to_table("products", records=rows, columns=columns)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def count(url: str, table: str) -> int:
    connection = await asyncpg.connect(_dsn(url))
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def checkpoint(*urls: str) -> None:
    for url in urls:
        connection = await asyncpg.connect(_dsn(url))
        try:
            await connection.execute("VACUUM ANALYZE")
            await connection.execute("CHECKPOINT")
        finally:
            await connection.close()


def export_feed(base_url: str, name: str) -> tuple[int, float]:
    started = time.perf_counter()
    rows = 0
    with (
        httpx.Client(base_url=base_url, timeout=900, headers=HEADERS) as client,
        client.stream("GET", f"/v1/export/{name}") as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            rows += chunk.count(b"\n")
    return rows, time.perf_counter() - started


async def raw_export(url: str, query: str) -> tuple[int, float]:
    connection = await asyncpg.connect(_dsn(url))
    sink = bytearray()

    async def collect(data: bytes) -> None:
        sink.extend(data)

    try:
        started = time.perf_counter()
        await connection.copy_from_query(query, output=collect)
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    return sink.count(b"\n"), elapsed


def ingest_result(rows: int, ours: float, raw: float, **extra: Any) -> dict[str, Any]:
    return {
        "rows": rows,
        **extra,
        "ours_seconds": round(ours, 2),
        "ours_rows_per_s": round(rows / ours),
        "raw_seconds": round(raw, 2),
        "raw_rows_per_s": round(rows / raw),
        "ratio": round(raw / ours, 3),
    }


def main() -> None:
    total_started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_postgres_database(ADMIN_URL, "crm_bench_customer") as customer_db,
        fresh_postgres_database(ADMIN_URL, "crm_bench_orders") as orders_db,
        fresh_postgres_database(ADMIN_URL, "crm_bench_raw") as raw_db,
    ):
        asyncio.run(migrate(raw_db))
        quiet = {"CUSTOMER_LOG_LEVEL": "WARNING", "ORDERS_LOG_LEVEL": "WARNING"}
        with (
            service_process(
                "crm_customer",
                "CUSTOMER_",
                database_url=customer_db,
                log_dir=Path(tmp),
                extra_env=quiet,
            ) as customer,
            service_process(
                "crm_orders",
                "ORDERS_",
                database_url=orders_db,
                log_dir=Path(tmp),
                extra_env={**quiet, "ORDERS_CUSTOMER_URL": customer.url},
            ) as orders,
        ):
            print("loading customers and products", flush=True)
            shop = load_shop(customer.url, orders.url)
            asyncio.run(copy_products(raw_db, shop.products))

            print(f"building {INTERACTIONS:,} interactions", flush=True)
            batches = interaction_batches(shop)
            asyncio.run(checkpoint(orders_db, raw_db))
            ours, raw = interleaved(
                orders.url,
                "/v1/interactions/batch",
                raw_db,
                batches,
                {},
                INTERACTIONS_IN_FLIGHT,
            )
            print(f"  service {INTERACTIONS / ours:,.0f} rows/s", flush=True)
            print(f"  raw     {INTERACTIONS / raw:,.0f} rows/s", flush=True)
            stored = asyncio.run(count(orders_db, "interactions"))
            if stored != INTERACTIONS:
                raise RuntimeError(f"{stored} interactions stored of {INTERACTIONS}")
            interactions = ingest_result(
                INTERACTIONS,
                ours,
                raw,
                batch_size=INTERACTION_BATCH,
                in_flight=INTERACTIONS_IN_FLIGHT,
                body_bytes=sum(len(b.body) for b in batches),
            )
            del batches

            print(f"building {ORDERS:,} orders", flush=True)
            batches = order_batches(shop)
            lines = sum(len(b.tables["order_lines"]) for b in batches)
            asyncio.run(checkpoint(orders_db, raw_db))
            ours, raw = interleaved(
                orders.url,
                "/v1/orders/import",
                raw_db,
                batches,
                {"on_error": "abort"},
                ORDERS_IN_FLIGHT,
            )
            print(f"  service {ORDERS / ours:,.0f} orders/s", flush=True)
            print(f"  raw     {ORDERS / raw:,.0f} orders/s", flush=True)
            stored = asyncio.run(count(orders_db, "order_lines"))
            if stored != lines:
                raise RuntimeError(f"{stored} order lines stored of {lines}")
            order_result = ingest_result(
                ORDERS, ours, raw, lines=lines, batch_size=ORDER_BATCH, in_flight=ORDERS_IN_FLIGHT
            )
            order_result["ours_lines_per_s"] = round(lines / ours)
            del batches

            asyncio.run(checkpoint(orders_db))
            feeds: dict[str, Any] = {}
            for name, query in FEED_QUERIES.items():
                rows, seconds = export_feed(orders.url, name)
                raw_rows, raw_seconds = asyncio.run(raw_export(orders_db, query))
                feeds[name] = {
                    "rows": rows,
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(rows / seconds),
                    "raw_copy_out_rows_per_s": round(raw_rows / raw_seconds),
                }
                print(f"  export {name}: {rows / seconds:,.0f} rows/s", flush=True)
    result = {
        "benchmark": "orders_ingest",
        "interactions": interactions,
        "orders": order_result,
        "export": feeds,
        "goal_ratio": GOAL_RATIO,
        "total_seconds": round(time.perf_counter() - total_started, 1),
    }
    path = write_result("orders_ingest", result)
    print(f"{'':34}{'rows/s':>12}{'raw rows/s':>12}{'ratio':>8}")
    for name, figures in (
        ("POST /v1/interactions/batch", interactions),
        ("POST /v1/orders/import (orders)", order_result),
    ):
        print(
            f"{name:34}{figures['ours_rows_per_s']:>12,}{figures['raw_rows_per_s']:>12,}"
            f"{figures['ratio']:>8}"
        )
    for name, figures in feeds.items():
        print(f"{'GET /v1/export/' + name:34}{figures['rows_per_s']:>12,}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
