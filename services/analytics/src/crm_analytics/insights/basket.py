"""Association rules between products bought in the same order (no I/O).

`basket_rules(lines, BasketParameters())` takes one row per order line (`order_id`,
`product_id`) and returns the rules "an order with A also holds B" of one product each
side, with

    support    = orders(A and B) / orders
    confidence = orders(A and B) / orders(A)
    lift       = confidence / (orders(B) / orders)

Counting is sparse: an orders x products 0/1 matrix X, the products' order counts are
its column sums and every pair's count is an entry of Xᵀ·X. Products below the minimum
count cannot be in a frequent pair (a pair is never more frequent than either side), so
their columns go before the product, and so do orders left with fewer than two products.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

RULE_COLUMNS = (
    "antecedent_id",
    "consequent_id",
    "orders",
    "antecedent_orders",
    "consequent_orders",
    "support",
    "confidence",
    "lift",
)


@dataclass(frozen=True)
class BasketParameters:
    """A rule is kept when its pair is in at least `min_orders` orders and at least
    `min_support` of all orders, and reaches `min_confidence` and `min_lift`; the best
    `max_rules` by lift (then confidence) are kept."""

    min_support: float = 0.001
    min_orders: int = 3
    min_confidence: float = 0.05
    min_lift: float = 1.0
    max_rules: int = 10_000

    def __post_init__(self) -> None:
        if not 0 <= self.min_support <= 1:
            raise ValueError("min_support must be within [0, 1]")
        if self.min_orders < 1:
            raise ValueError("min_orders must be at least 1")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be within [0, 1]")
        if self.min_lift < 0:
            raise ValueError("min_lift must not be negative")
        if self.max_rules < 1:
            raise ValueError("max_rules must be at least 1")


@dataclass(frozen=True)
class BasketResult:
    """The rules (columns `RULE_COLUMNS`, best lift first) and a JSON-able report."""

    rules: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def _no_rules() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "antecedent_id": pd.Series(dtype=object),
            "consequent_id": pd.Series(dtype=object),
            "orders": pd.Series(dtype=np.int64),
            "antecedent_orders": pd.Series(dtype=np.int64),
            "consequent_orders": pd.Series(dtype=np.int64),
            "support": pd.Series(dtype=np.float64),
            "confidence": pd.Series(dtype=np.float64),
            "lift": pd.Series(dtype=np.float64),
        }
    )


def order_product_matrix(lines: pd.DataFrame) -> tuple[sparse.csr_matrix, np.ndarray[Any, Any]]:
    """The orders x products 0/1 matrix (a product twice in an order counts once) and
    the product id of each column."""
    order_codes, _ = pd.factorize(lines["order_id"], sort=False)
    product_codes, products = pd.factorize(lines["product_id"], sort=True)
    shape = (int(order_codes.max()) + 1, len(products)) if len(lines) else (0, 0)
    matrix = sparse.csr_matrix(
        (np.ones(len(lines), dtype=np.int32), (order_codes, product_codes)),
        shape=shape,
        dtype=np.int32,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix, np.asarray(products, dtype=object)


def basket_rules(lines: pd.DataFrame, params: BasketParameters) -> BasketResult:
    started = time.perf_counter()
    lines = lines.dropna(subset=["order_id", "product_id"])
    if lines.empty:
        return BasketResult(_no_rules(), {"orders": 0, "products": 0, "rules": 0})
    matrix, products = order_product_matrix(lines)
    orders, product_count = matrix.shape
    item_orders = np.asarray(matrix.sum(axis=0), dtype=np.int64).ravel()
    min_count = max(params.min_orders, math.ceil(params.min_support * orders))

    frequent = np.flatnonzero(item_orders >= min_count)
    narrowed = matrix[:, frequent]
    narrowed = narrowed[np.diff(narrowed.indptr) >= 2]
    pairs = (narrowed.T.tocsr() @ narrowed).tocoo()
    keep = (pairs.row < pairs.col) & (pairs.data >= min_count)
    first = frequent[pairs.row[keep]]
    second = frequent[pairs.col[keep]]
    together = pairs.data[keep].astype(np.int64)

    # Each pair gives two rules, A → B and B → A, with the same support and lift.
    antecedent = np.concatenate([first, second])
    consequent = np.concatenate([second, first])
    both = np.concatenate([together, together])
    antecedent_orders = item_orders[antecedent]
    consequent_orders = item_orders[consequent]
    support = both / orders
    confidence = both / antecedent_orders
    lift = confidence / (consequent_orders / orders)
    chosen = (confidence >= params.min_confidence) & (lift >= params.min_lift)

    rules = pd.DataFrame(
        {
            "antecedent_id": products[antecedent[chosen]],
            "consequent_id": products[consequent[chosen]],
            "orders": both[chosen],
            "antecedent_orders": antecedent_orders[chosen],
            "consequent_orders": consequent_orders[chosen],
            "support": support[chosen],
            "confidence": confidence[chosen],
            "lift": lift[chosen],
        }
    )
    rules = rules.sort_values(
        ["lift", "confidence", "orders", "antecedent_id", "consequent_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    candidates = len(rules)
    rules = rules.head(params.max_rules).reset_index(drop=True)
    report = {
        "orders": int(orders),
        "products": int(product_count),
        "min_pair_orders": int(min_count),
        "frequent_products": len(frequent),
        "pairs": len(together),
        "candidate_rules": candidates,
        "rules": len(rules),
        "seconds": time.perf_counter() - started,
    }
    return BasketResult(rules, report)
