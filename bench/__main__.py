"""`make bench`: every benchmark, then the summary in docs/benchmarks.md.

`python -m bench customer_read` runs one; results land in bench/results/<name>.json.
"""

from __future__ import annotations

import importlib
import sys

from bench import report

BENCHMARKS = (
    "customer_import",
    "customer_read",
    "orders_ingest",
    "analytics_clv",
    "analytics_scoring",
    "analytics_models",
    "analytics_basket",
    "analytics_topics",
    "recommend_quality",
    "recommend_training",
    "recommend_serving",
    "gateway_proxy",
    "mixed_load",
    "dashboard_aggregates",
)


def main(names: list[str]) -> None:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}")
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    report.write()


main(sys.argv[1:])
