"""`POST /v1/customers/import` of 100,000 CSV rows on PostgreSQL, beside a raw asyncpg COPY.

The service runs as a real uvicorn process against a fresh database; the CSV is streamed
to it from memory. The baseline copies the very same customers, already converted to
their stored columns, with asyncpg's `copy_records_to_table` into a second fresh database
with the same migrations (so the same indexes), and does nothing else: no parsing, no
validation, no lookups, no tags table. Each side runs 3 times on emptied tables, in turn;
the medians are compared. Goal: the service reaches at least 0.5x the raw rows/s.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

import crm_customer
from bench.common import ADMIN_URL, write_result
from crm_customer.customers.matching import email_key, name_address_key, phone_key
from crm_shared.db import create_engine
from crm_shared.ids import uuid7
from crm_shared.migrations import upgrade_to_head
from crm_shared.synthetic import customers
from crm_shared.testing import TEST_SERVICE_TOKEN, fresh_postgres_database, service_process

ROWS = int(os.environ.get("CRM_BENCH_IMPORT_ROWS", "100000"))
ROUNDS = 3
SEED = 7
CHUNK = 64 * 1024
GOAL_RATIO = 0.5
MIGRATIONS = Path(crm_customer.__file__).parent / "migrations"
TABLES = "customers, customer_tags, customer_events, idempotency_keys, feed_counter"
CSV_HEADER = (
    "external_ref email first_name last_name phone address_line1 city postal_code country "
    "locale lifecycle_stage tags consent_email"
).split()


def shop(rows: int) -> list[dict[str, Any]]:
    return list(customers(rows, seed=SEED))


def csv_body(shop_customers: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for customer in shop_customers:
        address = customer["address"]
        writer.writerow(
            [
                customer["external_ref"],
                customer["email"],
                customer["first_name"],
                customer["last_name"],
                customer["phone"],
                address["line1"],
                address["city"],
                address["postal_code"],
                address["country"],
                customer["locale"],
                "active",
                "|".join(customer["tags"]),
                "true" if customer["consents"][0]["granted"] else "false",
            ]
        )
    return out.getvalue().encode()


def raw_records(shop_customers: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The customers as the import stores them: every column, match keys and positions."""
    now = dt.datetime.now(dt.UTC)
    columns = [
        "id",
        "external_ref",
        "email",
        "first_name",
        "last_name",
        "phone",
        "address_line1",
        "city",
        "postal_code",
        "country",
        "locale",
        "lifecycle_stage",
        "tags",
        "consents",
        "email_key",
        "phone_key",
        "name_address_key",
        "change_position",
        "created_at",
        "updated_at",
    ]
    records = []
    for position, customer in enumerate(shop_customers, start=1):
        address = customer["address"]
        consent = {
            "email": {
                "granted": customer["consents"][0]["granted"],
                "source": "import",
                "recorded_at": now.isoformat(),
            }
        }
        records.append(
            (
                uuid7(),
                customer["external_ref"],
                customer["email"],
                customer["first_name"],
                customer["last_name"],
                customer["phone"],
                address["line1"],
                address["city"],
                address["postal_code"],
                address["country"],
                customer["locale"],
                "active",
                orjson.dumps(customer["tags"]).decode(),
                orjson.dumps(consent).decode(),
                email_key(customer["email"]),
                phone_key(customer["phone"]),
                name_address_key(
                    customer["first_name"],
                    customer["last_name"],
                    address["postal_code"],
                    address["line1"],
                ),
                position,
                now,
                now,
            )
        )
    return columns, records


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine, MIGRATIONS, "customer")
    finally:
        await engine.dispose()


async def empty(url: str) -> None:
    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute(f"TRUNCATE {TABLES} CASCADE")
        # Flush the previous round's writes now, not during the next measurement.
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def count(url: str, table: str) -> int:
    connection = await asyncpg.connect(_dsn(url))
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def raw_copy(url: str, columns: list[str], records: list[tuple[Any, ...]]) -> float:
    connection = await asyncpg.connect(_dsn(url))
    try:
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table("customers", records=records, columns=columns)
        return time.perf_counter() - started
    finally:
        await connection.close()


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def import_once(base_url: str, body: bytes) -> tuple[float, dict[str, Any]]:
    with httpx.Client(base_url=base_url, timeout=600) as client:
        started = time.perf_counter()
        response = client.post(
            "/v1/customers/import",
            content=chunks(body),
            headers={"content-type": "text/csv", "x-service-token": TEST_SERVICE_TOKEN},
        )
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"import failed: {response.status_code} {response.text[:2000]}")
    report: dict[str, Any] = response.json()
    return elapsed, report


def main() -> None:
    shop_customers = shop(ROWS)
    body = csv_body(shop_customers)
    columns, records = raw_records(shop_customers)
    expected_tags = sum(len(customer["tags"]) for customer in shop_customers)
    ours: list[float] = []
    raw: list[float] = []
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_postgres_database(ADMIN_URL, "crm_bench") as service_url,
        fresh_postgres_database(ADMIN_URL, "crm_bench") as raw_url,
    ):
        asyncio.run(migrate(raw_url))
        with service_process(
            "crm_customer",
            "CUSTOMER_",
            database_url=service_url,
            log_dir=Path(tmp),
            extra_env={"CUSTOMER_LOG_LEVEL": "WARNING"},
        ) as service:
            for _ in range(ROUNDS):
                asyncio.run(empty(service_url))
                seconds, report = import_once(service.url, body)
                stored = asyncio.run(count(service_url, "customers"))
                tags = asyncio.run(count(service_url, "customer_tags"))
                if (report["inserted"], stored, tags) != (ROWS, ROWS, expected_tags):
                    raise RuntimeError(f"import incomplete: {report=} {stored=} {tags=}")
                ours.append(seconds)

                asyncio.run(empty(raw_url))
                raw.append(asyncio.run(raw_copy(raw_url, columns, records)))
                if asyncio.run(count(raw_url, "customers")) != ROWS:
                    raise RuntimeError("raw copy incomplete")
    ours_seconds, raw_seconds = statistics.median(ours), statistics.median(raw)
    result = {
        "benchmark": "customer_import",
        "rows": ROWS,
        "csv_bytes": len(body),
        "tag_rows": expected_tags,
        "ours_seconds": round(ours_seconds, 3),
        "ours_rows_per_s": round(ROWS / ours_seconds),
        "raw_seconds": round(raw_seconds, 3),
        "raw_rows_per_s": round(ROWS / raw_seconds),
        "ratio": round(raw_seconds / ours_seconds, 3),
        "goal_ratio": GOAL_RATIO,
        "rounds": {"ours_seconds": ours, "raw_seconds": raw},
        # Both sides share the machine; the ratio is only as good as the quiet around it.
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
    }
    path = write_result("customer_import", result)
    print(f"{'':28}{'seconds':>10}{'rows/s':>12}")
    print(f"{'POST /v1/customers/import':28}{ours_seconds:>10.2f}{result['ours_rows_per_s']:>12}")
    print(f"{'raw asyncpg COPY':28}{raw_seconds:>10.2f}{result['raw_rows_per_s']:>12}")
    print(f"ratio ours/raw {result['ratio']} (goal >= {GOAL_RATIO}), {ROWS} rows -> {path}")


if __name__ == "__main__":
    main()
