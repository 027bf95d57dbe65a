"""Summarise bench/results/*.json into the figures table of docs/benchmarks.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.common import RESULTS

DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- results -->", "<!-- /results -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _rows() -> list[str]:
    rows = []
    if imported := _load("customer_import"):
        rows.append(
            f"| bulk import, {imported['rows']:,} customers, PostgreSQL | "
            f"{imported['ours_rows_per_s']:,.0f} rows/s ({imported['ours_seconds']:.2f} s) | "
            f"raw asyncpg COPY {imported['raw_rows_per_s']:,.0f} rows/s "
            f"({imported['raw_seconds']:.2f} s) | **{imported['ratio']:.2f}x** | ≥ 0.5x |"
        )
    if read := _load("customer_read"):
        ours, raw = read["service"], read["raw_asyncpg"]
        rows.append(
            f"| `GET /v1/customers/{{id}}`, PostgreSQL, {read['connections']} connections | "
            f"{ours['requests_per_s']:,.0f} req/s, p50 {ours['p50_ms']} ms, "
            f"p99 {ours['p99_ms']} ms | raw asyncpg endpoint {raw['requests_per_s']:,.0f} req/s, "
            f"p50 {raw['p50_ms']} ms, p99 {raw['p99_ms']} ms | **{read['ratio']:.2f}x** | ≥ 0.5x |"
        )
    rows.extend(_orders_ingest_rows())
    return rows


def _orders_ingest_rows() -> list[str]:
    ingest = _load("orders_ingest")
    if ingest is None:
        return []
    events, orders, feeds = ingest["interactions"], ingest["orders"], ingest["export"]
    return [
        f"| `POST /v1/interactions/batch`, {events['rows']:,} interactions in NDJSON batches "
        f"of {events['batch_size']:,}, PostgreSQL | {events['ours_rows_per_s']:,} rows/s "
        f"({events['ours_seconds']:.1f} s) | raw asyncpg COPY {events['raw_rows_per_s']:,} "
        f"rows/s ({events['raw_seconds']:.1f} s) | **{events['ratio']:.2f}x** | ≥ 0.5x |",
        f"| `POST /v1/orders/import`, {orders['rows']:,} orders ({orders['lines']:,} lines), "
        f"PostgreSQL | {orders['ours_rows_per_s']:,} orders/s ({orders['ours_seconds']:.1f} s) "
        f"| raw asyncpg COPY {orders['raw_rows_per_s']:,} orders/s "
        f"({orders['raw_seconds']:.1f} s) | **{orders['ratio']:.2f}x** | ≥ 0.5x |",
        *(
            f"| `GET /v1/export/{name}`, {feed['rows']:,} rows, NDJSON stream | "
            f"{feed['rows_per_s']:,} rows/s | raw `COPY (SELECT ...) TO STDOUT` "
            f"{feed['raw_copy_out_rows_per_s']:,} rows/s | "
            f"{feed['rows_per_s'] / feed['raw_copy_out_rows_per_s']:.2f}x | - |"
            for name, feed in feeds.items()
            if name != "products"
        ),
    ]


def write() -> None:
    table = "\n".join(
        [
            "| benchmark | ours | baseline (same run) | ratio | goal |",
            "| --- | --- | --- | --- | --- |",
            *_rows(),
        ]
    )
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(pattern.sub(f"{START}\n{table}\n{END}", text))
    print(f"summary written to {DOC}")
