"""Purchase histories drawn from known BG/NBD and Gamma-Gamma parameters (tests, benchmarks).

The draw follows the models' stories exactly: each customer has a purchase rate
lambda ~ Gamma(r, alpha) (per week) and a dropout probability p ~ Beta(a, b); after every repeat
purchase they leave with probability p. Spend per order is Gamma(p_spend, nu) with
nu ~ Gamma(q, gamma) per customer. Everything is vectorised, so a million customers take
seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdTruth:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaTruth:
    p: float
    q: float
    gamma: float


def bgnbd_summary(
    truth: BgNbdTruth, big_t: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(x, t_x) per customer observed for `big_t` weeks after their first purchase.

    Purchases arrive as a Poisson process: N of them fall in [0, T], uniform given N.
    The customer would leave after K ~ Geometric(p) repeats, so x = min(N, K) and t_x is
    the x-th of N uniform order statistics: T·Beta(x, N - x + 1).
    """
    n = len(big_t)
    rate = rng.gamma(truth.r, 1.0 / truth.alpha, n)
    dropout = np.clip(rng.beta(truth.a, truth.b, n), 1e-12, 1.0)
    arrivals = rng.poisson(rate * big_t)
    x = np.minimum(arrivals, rng.geometric(dropout))
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = big_t[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return x.astype(np.float64), t_x


def spend_means(truth: GammaGammaTruth, x: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Mean of x transaction values per customer (0 where x = 0).

    The sum of x Gamma(p, nu) draws is Gamma(p·x, nu), so one draw per customer suffices.
    """
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, len(x))
    means = np.zeros(len(x))
    has = x > 0
    means[has] = rng.gamma(truth.p * x[has], 1.0 / nu[has]) / x[has]
    return means


def order_lines(
    customers: int,
    *,
    as_of: dt.date,
    acquisition_days: int,
    bgnbd: BgNbdTruth,
    gamma_gamma: GammaGammaTruth,
    lines_per_order: float = 2.5,
    refunded_share: float = 0.03,
    seed: int = 7,
) -> pd.DataFrame:
    """Order lines of `customers` customers first buying within `acquisition_days` of as_of.

    Columns as `score_customers` takes them: customer_id (categorical "c0000001" ...),
    order_id (int64), placed_at (UTC), amount, quantity. A `refunded_share` of orders
    is fully refunded (amount 0). Order values are split over 1 + Poisson lines.
    """
    rng = np.random.default_rng(seed)
    age_days = rng.integers(0, acquisition_days, customers)
    big_t = age_days / 7.0
    x, t_x = bgnbd_summary(bgnbd, big_t, rng)
    repeats = x.astype(np.int64)

    # Orders: the first at age 0, the last repeat at t_x, the others uniform before it.
    per_customer = 1 + repeats
    order_customer = np.repeat(np.arange(customers), per_customer)
    position = np.arange(len(order_customer)) - np.repeat(
        np.cumsum(per_customer) - per_customer, per_customer
    )
    last_time = t_x[order_customer]
    weeks = np.where(
        position == 0,
        0.0,
        np.where(
            position == per_customer[order_customer] - 1,
            last_time,
            rng.uniform(0.0, 1.0, len(order_customer)) * last_time,
        ),
    )
    day_ns = 86_400 * 10**9
    as_of_ns = int(np.datetime64(as_of, "ns").astype(np.int64))
    first_ns = as_of_ns - age_days * day_ns
    # Within the day of the purchase time, never past the end of `as_of`.
    placed_ns = np.minimum(
        first_ns[order_customer]
        + (weeks * 7 * day_ns).astype(np.int64)
        + rng.integers(0, 3_600 * 10**9, len(order_customer)),
        as_of_ns + day_ns - 1,
    )
    nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.gamma, customers)
    order_value = rng.gamma(gamma_gamma.p, 1.0 / nu[order_customer])
    order_value[rng.random(len(order_value)) < refunded_share] = 0.0

    lines_in_order = 1 + rng.poisson(max(lines_per_order - 1.0, 0.0), len(order_customer))
    line_order = np.repeat(np.arange(len(order_customer)), lines_in_order)
    share = rng.uniform(0.5, 1.5, len(line_order))
    share /= np.bincount(line_order, weights=share)[line_order]
    ids = pd.Categorical.from_codes(
        order_customer[line_order],
        categories=pd.Index([f"c{number:07d}" for number in range(customers)]),
    )
    return pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": line_order.astype(np.int64),
            "placed_at": pd.to_datetime(placed_ns[line_order], unit="ns", utc=True),
            "amount": np.round(order_value[line_order] * share, 2),
            "quantity": 1 + rng.poisson(0.5, len(line_order)),
        }
    )
