"""Customer value: the weighted value score, the simple value ranking, value tiers, lifecycle.

- value_score = alpha·Q + beta·V + gamma·L, each component normalised to its percentile
  rank in (0, 1): the mid-rank of the customer's tie block divided by the number of
  customers (Q = net units bought, V = net revenue, L = loyalty, the number of orders).
  Ranks keep one very large customer from squashing everybody else towards 0, as a
  min-max scaling would; with weights summing to 1 the score is within (0, 1).
- simple_value = monetary x frequency (net revenue times the number of orders), ranked
  1 = most valuable (ties share the best rank).
- value_tier from the CLV quantiles q1 < q2 (default the 50th and 80th percentiles,
  linear interpolation): low below q1, medium from q1 up to q2, high from q2.
- lifecycle_stage from days since the first and the last purchase:
  new when the first purchase is at most `active_days` old; otherwise active while the
  last purchase is at most `at_risk_days` old, at_risk until it is `churned_days` old,
  churned after that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

TIERS = ("low", "medium", "high")
LIFECYCLE_STAGES = ("new", "active", "at_risk", "churned")


def percentile_ranks(values: NDArray[np.generic]) -> NDArray[np.float64]:
    """Mid-rank of each value's tie block over n, in (0, 1): ((lo + hi) / 2) / n."""
    data = np.asarray(values, dtype=np.float64)
    n = len(data)
    if n == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(data, return_inverse=True, return_counts=True)
    hi = np.cumsum(counts)
    return np.asarray(((hi - counts / 2) / n)[inverse.ravel()], dtype=np.float64)


def value_scores(
    quantity: NDArray[np.generic],
    monetary: NDArray[np.generic],
    loyalty: NDArray[np.generic],
    weights: tuple[float, float, float],
) -> NDArray[np.float64]:
    """alpha·rank(quantity) + beta·rank(value) + gamma·rank(loyalty)."""
    alpha, beta, gamma = weights
    if min(weights) < 0:
        raise ValueError("value weights must not be negative")
    return np.asarray(
        alpha * percentile_ranks(quantity)
        + beta * percentile_ranks(monetary)
        + gamma * percentile_ranks(loyalty),
        dtype=np.float64,
    )


def simple_values(
    monetary: NDArray[np.generic], frequency: NDArray[np.generic]
) -> NDArray[np.float64]:
    """Net revenue times the number of orders."""
    return np.asarray(monetary, dtype=np.float64) * np.asarray(frequency, dtype=np.float64)


def descending_ranks(values: NDArray[np.generic]) -> NDArray[np.int64]:
    """Rank 1 for the largest value; tied customers share the best rank of their block."""
    data = -np.asarray(values, dtype=np.float64)
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(data, return_inverse=True, return_counts=True)
    lo = np.cumsum(counts) - counts
    return np.asarray((lo + 1)[inverse.ravel()], dtype=np.int64)


def value_tiers(clv: NDArray[np.generic], quantiles: tuple[float, float]) -> pd.Categorical:
    """low < q1 ≤ medium < q2 ≤ high, q1 and q2 the CLV quantiles (linear interpolation)."""
    low_q, high_q = quantiles
    if not 0 <= low_q <= high_q <= 1:
        raise ValueError("tier quantiles must satisfy 0 ≤ q1 ≤ q2 ≤ 1")
    data = np.asarray(clv, dtype=np.float64)
    if len(data) == 0:
        return pd.Categorical.from_codes(np.zeros(0, dtype=np.int8), categories=list(TIERS))
    q1, q2 = np.quantile(data, [low_q, high_q])
    codes = (data >= q1).astype(np.int8) + (data >= q2).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=list(TIERS))


def lifecycle_stages(
    recency_days: NDArray[np.generic],
    tenure_days: NDArray[np.generic],
    *,
    active_days: int,
    at_risk_days: int,
    churned_days: int,
) -> pd.Categorical:
    """new / active / at_risk / churned from days since the last and the first purchase."""
    if not 0 <= active_days <= at_risk_days <= churned_days:
        raise ValueError("need 0 ≤ active_days ≤ at_risk_days ≤ churned_days")
    recency = np.asarray(recency_days)
    tenure = np.asarray(tenure_days)
    codes = np.select(
        [tenure <= active_days, recency <= at_risk_days, recency <= churned_days],
        [0, 1, 2],
        default=3,
    ).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=list(LIFECYCLE_STAGES))
