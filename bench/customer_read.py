"""`GET /v1/customers/{id}` on PostgreSQL at 64 connections, beside a raw asyncpg endpoint.

Both run as one uvicorn worker against the same database in the same run; wrk asks for
random customers of 20,000. Goal: the service reaches at least 0.5x the raw throughput.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import asyncpg

from bench.common import ADMIN_URL, background_process, median_run, wait_for, write_result, wrk_get
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    free_port,
    fresh_postgres_database,
    service_process,
)

CUSTOMERS = 20_000
ROUNDS = 3

SEED_SQL = f"""
INSERT INTO customers (id, email, first_name, last_name, phone, city, country, locale,
    lifecycle_stage, tags, consents, change_position, created_at, updated_at)
SELECT gen_random_uuid(), 'customer' || g || '@example.com', 'First' || g, 'Last' || g,
    '+4930' || (1000000 + g), 'Berlin', 'DE', 'de-DE', 'active', '["newsletter", "vip"]'::jsonb,
    ('{{"email": {{"granted": true, "source": "bench", '
    || '"recorded_at": "2024-01-01T00:00:00+00:00"}}}}')::jsonb,
    g, now(), now()
FROM generate_series(1, {CUSTOMERS}) AS g
"""


async def seed(url: str) -> list[str]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(SEED_SQL)
        await connection.execute("ANALYZE customers")
        return [str(r["id"]) for r in await connection.fetch("SELECT id FROM customers")]
    finally:
        await connection.close()


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_postgres_database(ADMIN_URL, "crm_bench_read") as database_url,
    ):
        logs = Path(tmp)
        with service_process(
            "crm_customer",
            "CUSTOMER_",
            database_url=database_url,
            log_dir=logs,
        ) as service:
            ids = asyncio.run(seed(database_url))
            paths = [f"/v1/customers/{customer_id}" for customer_id in ids]
            raw_port = free_port()
            raw_url = f"http://127.0.0.1:{raw_port}"
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.raw_customer_read:create_app",
                "--port",
                str(raw_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            with background_process(command, {"RAW_DATABASE_URL": database_url}, logs / "raw.log"):
                wait_for(raw_url + paths[0])
                ours, raw = [], []
                wrk_get(service.url, paths, TEST_SERVICE_TOKEN, seconds=3)  # warm-up
                wrk_get(raw_url, paths, TEST_SERVICE_TOKEN, seconds=3)
                for _ in range(ROUNDS):
                    ours.append(wrk_get(service.url, paths, TEST_SERVICE_TOKEN))
                    raw.append(wrk_get(raw_url, paths, TEST_SERVICE_TOKEN))
    best_ours = median_run(ours)
    best_raw = median_run(raw)
    result = {
        "benchmark": "customer_read",
        "customers": CUSTOMERS,
        "connections": 64,
        "service": best_ours,
        "raw_asyncpg": best_raw,
        "ratio": round(best_ours["requests_per_s"] / best_raw["requests_per_s"], 3),
        "goal_ratio": 0.5,
        "rounds": {"service": ours, "raw_asyncpg": raw},
    }
    path = write_result("customer_read", result)
    print(
        f"GET /v1/customers/{{id}}: service {best_ours['requests_per_s']} req/s "
        f"(p50 {best_ours['p50_ms']} ms, p99 {best_ours['p99_ms']} ms), raw asyncpg "
        f"{best_raw['requests_per_s']} req/s (p50 {best_raw['p50_ms']} ms, p99 "
        f"{best_raw['p99_ms']} ms): ratio {result['ratio']} -> {path}"
    )


if __name__ == "__main__":
    main()
