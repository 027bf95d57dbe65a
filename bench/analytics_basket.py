"""Basket rules on 1,000,000 orders beside a pandas self-merge pair count.

A synthetic shop: `CRM_BENCH_BASKET_ORDERS` orders (default 1,000,000) of 1-4 lines
(2.5 on average) over 20,000 products of Zipf-like popularity, and 50 planted pairs of
rarely bought products, each pair bought together in 2,000 orders (0.2 %). Ids are integers on
both sides (the service factorizes its text ids the same way before counting).

- ours: `crm_analytics.insights.basket.basket_rules` (sparse orders x products matrix,
  XᵀX for the pair counts, products below the minimum dropped first), the run's default
  minimums;
- baseline: the textbook pandas count: lines merged with themselves on the order, pairs
  (a < b) grouped and counted, then the same support / confidence / lift and filters.

Measured twice: with the run's default minimums, and with every pair seen in 3 orders
(no support minimum: all products take part, the counting's worst case). Both sides must
give the same rules; the report says how many planted pairs make the top 100 rules by
lift. Two rounds each, alternating; the faster round is reported.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.common import write_result
from crm_analytics.insights.basket import BasketParameters, basket_rules

ORDERS = int(os.environ.get("CRM_BENCH_BASKET_ORDERS", "1000000"))
PRODUCTS = 20_000
PLANTED_PAIRS = 50
PLANTED_ORDERS = 2000
ROUNDS = 2
PARAMS = BasketParameters()


def synthetic_lines(seed: int = 2026) -> tuple[pd.DataFrame, set[tuple[int, int]]]:
    random = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, PRODUCTS + 1) ** 0.9
    popularity /= popularity.sum()
    sizes = random.choice([1, 2, 3, 4], size=ORDERS, p=[0.2, 0.3, 0.3, 0.2])
    order_id = np.repeat(np.arange(ORDERS, dtype=np.int64), sizes)
    product_id = random.choice(PRODUCTS, size=len(order_id), p=popularity).astype(np.int64)
    planted: set[tuple[int, int]] = set()
    extra_orders: list[np.ndarray[Any, Any]] = []
    extra_products: list[np.ndarray[Any, Any]] = []
    # Planted pairs among the rarely bought products: planted into random orders.
    rare = random.choice(np.arange(PRODUCTS // 2, PRODUCTS), size=2 * PLANTED_PAIRS, replace=False)
    for first, second in rare.reshape(-1, 2):
        planted.add((int(min(first, second)), int(max(first, second))))
        orders = random.choice(ORDERS, size=PLANTED_ORDERS, replace=False)
        extra_orders.append(np.concatenate([orders, orders]))
        extra_products.append(
            np.concatenate([np.full(PLANTED_ORDERS, first), np.full(PLANTED_ORDERS, second)])
        )
    lines = pd.DataFrame(
        {
            "order_id": np.concatenate([order_id, *extra_orders]),
            "product_id": np.concatenate([product_id, *extra_products]),
        }
    )
    return lines, planted


def pandas_rules(lines: pd.DataFrame, params: BasketParameters) -> pd.DataFrame:
    """The pair count the usual way: a self-merge on the order."""
    baskets = lines.drop_duplicates()
    orders = baskets["order_id"].nunique()
    item_orders = baskets.groupby("product_id").size()
    pairs = baskets.merge(baskets, on="order_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["product_id_a"] < pairs["product_id_b"]]
    counts = pairs.groupby(["product_id_a", "product_id_b"]).size().rename("orders").reset_index()
    min_count = max(params.min_orders, int(np.ceil(params.min_support * orders)))
    counts = counts[counts["orders"] >= min_count]
    both = pd.concat(
        [
            counts.rename(
                columns={"product_id_a": "antecedent_id", "product_id_b": "consequent_id"}
            ),
            counts.rename(
                columns={"product_id_b": "antecedent_id", "product_id_a": "consequent_id"}
            ),
        ],
        ignore_index=True,
    )
    both["support"] = both["orders"] / orders
    both["confidence"] = both["orders"] / both["antecedent_id"].map(item_orders)
    both["lift"] = both["confidence"] / (both["consequent_id"].map(item_orders) / orders)
    kept = both[(both["confidence"] >= params.min_confidence) & (both["lift"] >= params.min_lift)]
    return kept.sort_values(["lift", "confidence"], ascending=False).head(params.max_rules)


def _rule_counts(rules: pd.DataFrame) -> dict[tuple[int, int], int]:
    return {
        (int(a), int(b)): int(n)
        for a, b, n in zip(
            rules["antecedent_id"], rules["consequent_id"], rules["orders"], strict=True
        )
    }


def measure(
    lines: pd.DataFrame, planted: set[tuple[int, int]], params: BasketParameters
) -> dict[str, Any]:
    ours_times: list[float] = []
    pandas_times: list[float] = []
    ours = baseline = None
    for _ in range(ROUNDS):
        start = time.perf_counter()
        ours = basket_rules(lines, params)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        baseline = pandas_rules(lines, params)
        pandas_times.append(time.perf_counter() - start)
    assert ours is not None
    assert baseline is not None
    top = ours.rules.head(100)
    found = {
        (int(min(a, b)), int(max(a, b)))
        for a, b in zip(top["antecedent_id"], top["consequent_id"], strict=True)
    } & planted
    result = {
        "parameters": {
            "min_support": params.min_support,
            "min_orders": params.min_orders,
            "min_confidence": params.min_confidence,
            "min_lift": params.min_lift,
            "max_rules": params.max_rules,
        },
        "ours": {"seconds": min(ours_times), "rounds": ours_times, "report": ours.report},
        "pandas_self_merge": {"seconds": min(pandas_times), "rounds": pandas_times},
        "ratio": min(pandas_times) / min(ours_times),
        "same_rules": _rule_counts(ours.rules) == _rule_counts(baseline),
        "planted_in_top_100": len(found),
    }
    print(
        f"min support {params.min_support}, min orders {params.min_orders}: ours "
        f"{min(ours_times):.2f} s, {ours.report['rules']:,} rules; pandas "
        f"{min(pandas_times):.2f} s; {result['ratio']:.1f}x; same rules "
        f"{result['same_rules']}; planted pairs in the top 100: {len(found)}/{len(planted)}"
    )
    return result


def main() -> None:
    started = time.perf_counter()
    lines, planted = synthetic_lines()
    print(f"{len(lines):,} lines in {ORDERS:,} orders ({time.perf_counter() - started:.1f} s)")
    defaults = measure(lines, planted, PARAMS)
    # Every pair seen in 3 orders: all products take part, the counting's worst case.
    low_support = measure(lines, planted, BasketParameters(min_support=0, min_orders=3))
    result = {
        "orders": ORDERS,
        "lines": len(lines),
        "products": PRODUCTS,
        "planted_pairs": len(planted),
        **defaults,
        "low_support": low_support,
    }
    path = write_result("analytics_basket", result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
