"""The dashboard's two new aggregates at scale, on PostgreSQL, beside reading the rows.

- `GET /v1/scores/distribution` (analytics): a 30-bin CLV histogram over one run of
  1,000,000 customers' scores. Baseline: the same run's CLV values fetched to Python and
  counted with `numpy.histogram`, what an endpoint without SQL aggregation would do.
- `GET /v1/orders/summary` (orders): 52 weeks of orders, distinct customers and net
  revenue over 3,000,000 orders of two years. Baseline: the window's orders fetched to
  Python and grouped with pandas.

Both sides run the service's own query code (`distribution`, `sales_summary`) or the
plain fetch on one asyncpg connection through SQLAlchemy, three rounds alternating; the
fastest round of each is kept and the answers are checked to agree. Ratio: baseline
seconds / ours (higher is better). Sizes shrink with CRM_BENCH_DASHBOARD_CUSTOMERS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import ADMIN_URL, write_result
from crm_analytics.models import metadata as analytics_metadata
from crm_analytics.runs.models import customer_scores
from crm_analytics.scores.distribution import distribution
from crm_orders.models import metadata as orders_metadata
from crm_orders.orders.repository import orders
from crm_orders.sales import sales_summary
from crm_shared.db import async_url
from crm_shared.schemas.analytics import ScoreMeasure
from crm_shared.schemas.orders import SalesInterval

CUSTOMERS = int(os.environ.get("CRM_BENCH_DASHBOARD_CUSTOMERS", "1000000"))
ORDERS = CUSTOMERS * 3
BINS = 30
WEEKS = 52
ROUNDS = 3
END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
LAST_DAY = (END - dt.timedelta(days=1)).date()


async def _database(name: str, metadata: Any) -> str:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_async_engine(async_url(url))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()
    return url


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _fill_scores(url: str, rng: np.random.Generator) -> uuid.UUID:
    run_id = uuid.uuid4()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO runs (id, status, trigger, worker, requested_at, parameters) "
            "VALUES ($1, 'succeeded', 'manual', 'bench', now(), '{}')",
            run_id,
        )
        frequency = rng.geometric(0.35, CUSTOMERS)
        monetary = np.round(frequency * rng.gamma(2.0, 40.0, CUSTOMERS), 2)
        clv = np.where(rng.random(CUSTOMERS) < 0.02, None, monetary * rng.gamma(1.5, 0.4))
        recency = rng.integers(0, 1000, CUSTOMERS)
        first = END - dt.timedelta(days=1000)
        records = [
            (
                run_id,
                uuid.UUID(int=number + 1),
                first,
                END - dt.timedelta(days=int(recency[number])),
                int(recency[number]),
                int(frequency[number]),
                float(monetary[number]),
                int(frequency[number]),
                3,
                3,
                3,
                "Loyal",
                0.5,
                None if clv[number] is None else float(clv[number]),
                "medium",
                "active",
            )
            for number in range(CUSTOMERS)
        ]
        columns = [
            "run_id",
            "customer_id",
            "first_purchase_at",
            "last_purchase_at",
            "recency_days",
            "frequency",
            "monetary",
            "quantity",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment",
            "value_score",
            "clv",
            "value_tier",
            "lifecycle_stage",
        ]
        await connection.copy_records_to_table("customer_scores", records=records, columns=columns)
        await connection.execute("ANALYZE customer_scores")
    finally:
        await connection.close()
    return run_id


async def _fill_orders(url: str, rng: np.random.Generator) -> None:
    connection = await asyncpg.connect(url)
    try:
        seconds = rng.integers(0, 730 * 86400, ORDERS)
        customers = rng.integers(1, CUSTOMERS + 1, ORDERS)
        totals = np.round(rng.gamma(2.0, 40.0, ORDERS), 2)
        cancelled = rng.random(ORDERS) < 0.03
        start = END - dt.timedelta(days=730)
        batch = 500_000
        for offset in range(0, ORDERS, batch):
            records = [
                (
                    uuid.uuid4(),
                    uuid.UUID(int=int(customers[number])),
                    "cancelled" if cancelled[number] else "delivered",
                    "web",
                    "EUR",
                    float(totals[number]),
                    0.0,
                    float(totals[number]),
                    0.0,
                    start + dt.timedelta(seconds=int(seconds[number])),
                    END,
                    END,
                )
                for number in range(offset, min(offset + batch, ORDERS))
            ]
            await connection.copy_records_to_table(
                "orders",
                records=records,
                columns=[
                    "id",
                    "customer_id",
                    "status",
                    "channel",
                    "currency",
                    "subtotal",
                    "discount_total",
                    "total",
                    "refunded_total",
                    "placed_at",
                    "created_at",
                    "updated_at",
                ],
            )
        await connection.execute("ANALYZE orders")
    finally:
        await connection.close()


async def _best(measure: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    answer = await measure()
    return time.perf_counter() - start, answer


async def _rounds(
    ours: Callable[[], Awaitable[Any]], baseline: Callable[[], Awaitable[Any]]
) -> dict[str, Any]:
    ours_times, baseline_times = [], []
    ours_answer = baseline_answer = None
    for _ in range(ROUNDS):
        seconds, ours_answer = await _best(ours)
        ours_times.append(seconds)
        seconds, baseline_answer = await _best(baseline)
        baseline_times.append(seconds)
    return {
        "ours_seconds": round(min(ours_times), 4),
        "baseline_seconds": round(min(baseline_times), 4),
        "ratio": round(min(baseline_times) / min(ours_times), 2),
        "ours": ours_answer,
        "baseline": baseline_answer,
    }


async def _histogram(url: str, run_id: uuid.UUID) -> dict[str, Any]:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as db:

        async def ours() -> list[int]:
            found = await distribution(db, run_id, ScoreMeasure.clv, BINS, None)
            return [bin_.customers for bin_ in found.bins]

        async def baseline() -> list[int]:
            rows = await db.execute(
                select(customer_scores.c.clv).where(
                    customer_scores.c.run_id == run_id, customer_scores.c.clv.is_not(None)
                )
            )
            values = np.fromiter((row[0] for row in rows), dtype=float)
            counts, _ = np.histogram(values, bins=BINS, range=(values.min(), values.max()))
            return [int(count) for count in counts]

        measured = await _rounds(ours, baseline)
    await engine.dispose()
    assert sum(measured["ours"]) == sum(measured["baseline"])
    # Bin edges are float sums on both sides: a value on an edge may fall either way.
    assert all(abs(a - b) <= 2 for a, b in zip(measured["ours"], measured["baseline"], strict=True))
    return {key: value for key, value in measured.items() if key not in ("ours", "baseline")}


async def _sales(url: str) -> dict[str, Any]:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as db:

        async def ours() -> list[int]:
            found = await sales_summary(db, SalesInterval.week, WEEKS, LAST_DAY)
            return [period.orders for period in found.periods]

        async def baseline() -> list[int]:
            last = LAST_DAY
            last_start = last - dt.timedelta(days=last.weekday())
            first_start = last_start - dt.timedelta(weeks=WEEKS - 1)
            start = dt.datetime.combine(first_start, dt.time(), tzinfo=dt.UTC)
            end = dt.datetime.combine(last_start + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
            rows = await db.execute(
                select(
                    orders.c.placed_at,
                    orders.c.customer_id,
                    (orders.c.total - orders.c.refunded_total).label("net"),
                ).where(
                    orders.c.placed_at >= start,
                    orders.c.placed_at < end,
                    orders.c.status != "cancelled",
                )
            )
            frame = pd.DataFrame(rows.all(), columns=["placed_at", "customer_id", "net"])
            placed = pd.to_datetime(frame["placed_at"], utc=True).dt.tz_localize(None)
            frame["week"] = placed.dt.to_period("W-SUN")
            weekly = frame.groupby("week").agg(
                orders=("net", "size"),
                customers=("customer_id", "nunique"),
                revenue=("net", "sum"),
            )
            return [int(count) for count in weekly["orders"]]

        measured = await _rounds(ours, baseline)
    await engine.dispose()
    assert [count for count in measured["ours"] if count] == measured["baseline"]
    return {key: value for key, value in measured.items() if key not in ("ours", "baseline")}


async def _run() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    names = (f"crm_bench_dash_scores_{os.getpid()}", f"crm_bench_dash_orders_{os.getpid()}")
    try:
        scores_url = await _database(names[0], analytics_metadata)
        orders_url = await _database(names[1], orders_metadata)
        started = time.perf_counter()
        run_id = await _fill_scores(scores_url, rng)
        await _fill_orders(orders_url, rng)
        print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
        histogram = await _histogram(scores_url, run_id)
        print(f"  distribution: {histogram}", flush=True)
        sales = await _sales(orders_url)
        print(f"  orders summary: {sales}", flush=True)
    finally:
        for name in names:
            await _drop(name)
    return {
        "load_average_1min": round(os.getloadavg()[0], 1),
        "customers": CUSTOMERS,
        "orders": ORDERS,
        "bins": BINS,
        "weeks": WEEKS,
        "distribution": histogram,
        "orders_summary": sales,
    }


def main() -> None:
    path = write_result("dashboard_aggregates", asyncio.run(_run()))
    print(f"  wrote {path}")
