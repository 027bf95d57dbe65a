"""RFM: per-customer recency, frequency and monetary value, quintile scores and named segments.

A purchase is an order whose net amount (line totals less refunds) is at least half a
cent; fully refunded orders and anything placed after the reference date do not count.

- recency_days: whole days from the last purchase's UTC date to the reference date.
- frequency: number of purchases (orders).
- monetary: their net revenue.

Scores 1-5 are quintiles of the mid-rank: a block of customers tied on a value occupies
sorted positions [lo, hi) of n and all of them get 1 + floor(5·(lo + hi) / (2n)), capped
at 5. Ties are never split between scores (whatever order the rows come in), and a
block's score is where the middle of the block falls: six tied customers out of ten,
at the bottom, occupy [0, 6) and score 2. Recency is scored on its negation (fewer
days is better). Without ties, n = 10 gives 1,1,2,2,3,3,4,4,5,5.

Segments come from the recency score and FM = floor((f_score + m_score) / 2) through a
5 x 5 grid in which every cell has exactly one segment, so every segment can occur
(`SEGMENT_GRID`, documented in docs/analytics-service.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

NS_PER_DAY = 86_400 * 10**9
# Orders whose net amount is below half a cent are fully refunded: float sums of
# line totals less refunds leave residues like 1e-14, never a real purchase.
MIN_PURCHASE_AMOUNT = 0.005

CHAMPIONS = "Champions"
LOYAL = "Loyal"
POTENTIAL_LOYALIST = "Potential Loyalist"
NEW_CUSTOMERS = "New Customers"
PROMISING = "Promising"
NEED_ATTENTION = "Need Attention"
ABOUT_TO_SLEEP = "About to Sleep"
AT_RISK = "At Risk"
CANT_LOSE_THEM = "Can't Lose Them"
HIBERNATING = "Hibernating"
LOST = "Lost"

SEGMENTS = (
    CHAMPIONS,
    LOYAL,
    POTENTIAL_LOYALIST,
    NEW_CUSTOMERS,
    PROMISING,
    NEED_ATTENTION,
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANT_LOSE_THEM,
    HIBERNATING,
    LOST,
)

# SEGMENT_GRID[r_score - 1][fm_score - 1]; rows are recency 1..5, columns FM 1..5.
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    (LOST, HIBERNATING, AT_RISK, CANT_LOSE_THEM, CANT_LOSE_THEM),  # r = 1
    (HIBERNATING, ABOUT_TO_SLEEP, AT_RISK, AT_RISK, CANT_LOSE_THEM),  # r = 2
    (ABOUT_TO_SLEEP, NEED_ATTENTION, NEED_ATTENTION, LOYAL, LOYAL),  # r = 3
    (PROMISING, POTENTIAL_LOYALIST, LOYAL, LOYAL, CHAMPIONS),  # r = 4
    (NEW_CUSTOMERS, POTENTIAL_LOYALIST, POTENTIAL_LOYALIST, CHAMPIONS, CHAMPIONS),  # r = 5
)


def _ids(values: pd.Series) -> tuple[NDArray[np.int64], pd.Index]:
    """Integer codes 0..k-1 per row and the k distinct values (categoricals are reused)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = pd.Index(values.cat.categories)
    else:
        raw_codes, raw_uniques = pd.factorize(values)
        codes = np.asarray(raw_codes, dtype=np.int64)
        uniques = pd.Index(raw_uniques)
    if len(codes) and codes.min() < 0:
        raise ValueError(f"{values.name} has missing values")
    return codes, uniques


def _first_occurrences(codes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Position of the first occurrence of each code, for codes numbered in order of appearance."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=first[1:])
    return np.flatnonzero(first)


def _times_ns(placed_at: pd.Series) -> NDArray[np.int64]:
    """UTC nanoseconds since the epoch; naive timestamps are taken as UTC."""
    index = pd.DatetimeIndex(placed_at)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _order_values(order_ids: pd.Series) -> NDArray[Any]:
    if isinstance(order_ids.dtype, pd.CategoricalDtype):
        return np.asarray(order_ids.cat.codes.to_numpy())
    if order_ids.isna().any():
        raise ValueError("order_id has missing values")
    return np.asarray(order_ids.to_numpy())


@dataclass
class _Orders:
    """One entry per order: its customer code, time, net amount and net quantity."""

    customer: NDArray[np.int64]
    time: NDArray[np.int64]
    amount: NDArray[np.float64]
    quantity: NDArray[np.float64]


def _orders(
    customer: NDArray[np.int64],
    order: NDArray[Any],
    time: NDArray[np.int64],
    amount: NDArray[np.float64],
    quantity: NDArray[np.float64],
) -> _Orders:
    """Lines summed into orders; an order id reused by two customers is two orders.

    Lines usually arrive grouped by order, so the work is done on runs of consecutive
    lines with the same order and customer (np.add.reduceat, one pass) and ids are
    hashed once per run, not per line. Lines in any other order give the same result.
    """
    if len(order) == 0:
        empty = np.zeros(0)
        return _Orders(empty.astype(np.int64), empty.astype(np.int64), empty, empty)
    run_start = np.empty(len(order), dtype=bool)
    run_start[0] = True
    np.not_equal(order[1:], order[:-1], out=run_start[1:])
    run_start[1:] |= customer[1:] != customer[:-1]
    starts = np.flatnonzero(run_start)
    runs = _Orders(
        customer[starts],
        time[starts],
        np.add.reduceat(amount, starts),
        np.add.reduceat(quantity, starts),
    )
    raw_codes, _ = pd.factorize(order[starts])
    codes = np.asarray(raw_codes, dtype=np.int64)
    firsts = _first_occurrences(codes)
    # An order split over several runs is a reused id when the runs' customers differ.
    split = len(firsts) < len(codes)
    if split and not np.array_equal(runs.customer[firsts][codes], runs.customer):
        raw_codes, _ = pd.factorize(runs.customer * (int(codes.max()) + 1) + codes)
        codes = np.asarray(raw_codes, dtype=np.int64)
        firsts = _first_occurrences(codes)
    if len(firsts) == len(codes):
        return runs
    earliest = np.full(len(firsts), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, codes, runs.time)
    return _Orders(
        runs.customer[firsts],
        earliest,
        np.asarray(np.bincount(codes, weights=runs.amount, minlength=len(firsts)), np.float64),
        np.asarray(np.bincount(codes, weights=runs.quantity, minlength=len(firsts)), np.float64),
    )


def customer_summary(lines: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """One row per customer with at least one purchase up to `as_of` (inclusive, UTC).

    Columns: first/last_purchase_at (UTC timestamps of the orders), recency_days and
    tenure_days (days from the last / first purchase date to `as_of`), frequency (orders),
    monetary (net revenue), quantity (net units), purchase_days (distinct purchase dates:
    same-day orders are one transaction for the lifetime-value models) and
    first_day_amount (net revenue of the first purchase date).
    """
    as_of_day = (as_of - dt.date(1970, 1, 1)).days
    customer_codes, customers = _ids(lines["customer_id"])
    times = _times_ns(lines["placed_at"])
    order = _order_values(lines["order_id"])
    amount = lines["amount"].to_numpy(dtype=np.float64)
    quantity = lines["quantity"].to_numpy(dtype=np.float64)
    in_window = times < (as_of_day + 1) * NS_PER_DAY
    if not in_window.all():
        customer_codes, times, order = customer_codes[in_window], times[in_window], order[in_window]
        amount, quantity = amount[in_window], quantity[in_window]
    orders = _orders(customer_codes, order, times, amount, quantity)
    purchase = orders.amount >= MIN_PURCHASE_AMOUNT
    order_customer, order_time = orders.customer[purchase], orders.time[purchase]
    order_amount, order_quantity = orders.amount[purchase], orders.quantity[purchase]

    n = len(customers)
    frequency = np.bincount(order_customer, minlength=n)
    monetary = np.bincount(order_customer, weights=order_amount, minlength=n)
    units = np.rint(np.bincount(order_customer, weights=order_quantity, minlength=n))
    first_time = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last_time = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first_time, order_customer, order_time)
    np.maximum.at(last_time, order_customer, order_time)

    # Purchase dates: distinct (customer, UTC date) pairs.
    order_day = order_time // NS_PER_DAY
    first_day = first_time // NS_PER_DAY
    base_day = int(order_day.min()) if len(order_day) else 0
    span = as_of_day - base_day + 1
    day_keys = np.sort(order_customer * span + (order_day - base_day))
    distinct = np.empty(len(day_keys), dtype=bool)
    distinct[:1] = True
    np.not_equal(day_keys[1:], day_keys[:-1], out=distinct[1:])
    # (np.unique would do the same, but numpy 2.3+ hashes large integer arrays, 20x slower)
    purchase_days = np.bincount(day_keys[distinct] // span, minlength=n)
    on_first_day = order_day == first_day[order_customer]
    first_day_amount = np.bincount(
        order_customer[on_first_day], weights=order_amount[on_first_day], minlength=n
    )

    keep = frequency > 0
    index = customers[keep]
    index.name = "customer_id"
    return pd.DataFrame(
        {
            "first_purchase_at": pd.to_datetime(first_time[keep], unit="ns", utc=True),
            "last_purchase_at": pd.to_datetime(last_time[keep], unit="ns", utc=True),
            "recency_days": (as_of_day - last_time[keep] // NS_PER_DAY).astype(np.int64),
            "tenure_days": (as_of_day - first_day[keep]).astype(np.int64),
            "frequency": frequency[keep].astype(np.int64),
            "monetary": monetary[keep],
            "quantity": units[keep].astype(np.int64),
            "purchase_days": purchase_days[keep].astype(np.int64),
            "first_day_amount": first_day_amount[keep],
        },
        index=index,
    )


def quintile_scores(
    values: NDArray[np.generic], *, higher_is_better: bool = True
) -> NDArray[np.int8]:
    """Scores 1-5 by the mid-rank of each tie block (module docstring); 5 is best."""
    data = np.asarray(values, dtype=np.float64)
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if not higher_is_better:
        data = -data
    _, inverse, counts = np.unique(data, return_inverse=True, return_counts=True)
    hi = np.cumsum(counts)
    lo = hi - counts
    block_scores = np.minimum(1 + (5 * (lo + hi)) // (2 * n), 5).astype(np.int8)
    return np.asarray(block_scores[inverse.ravel()], dtype=np.int8)


def fm_scores(f_score: NDArray[np.int8], m_score: NDArray[np.int8]) -> NDArray[np.int8]:
    """The combined frequency-monetary score floor((f + m) / 2): both must be high for 5."""
    return ((f_score.astype(np.int16) + m_score) // 2).astype(np.int8)


def segments(
    r_score: NDArray[np.int8], f_score: NDArray[np.int8], m_score: NDArray[np.int8]
) -> pd.Categorical:
    """The named segment of each customer, looked up in `SEGMENT_GRID`."""
    grid = np.array([[SEGMENTS.index(name) for name in row] for row in SEGMENT_GRID])
    codes = grid[r_score.astype(np.int64) - 1, fm_scores(f_score, m_score).astype(np.int64) - 1]
    return pd.Categorical.from_codes(codes, categories=list(SEGMENTS))


def rfm_scores(summary: pd.DataFrame) -> pd.DataFrame:
    """r_score, f_score, m_score and rfm_segment for a `customer_summary` frame."""
    r_score = quintile_scores(summary["recency_days"].to_numpy(), higher_is_better=False)
    f_score = quintile_scores(summary["frequency"].to_numpy())
    m_score = quintile_scores(summary["monetary"].to_numpy())
    return pd.DataFrame(
        {
            "r_score": r_score,
            "f_score": f_score,
            "m_score": m_score,
            "rfm_segment": segments(r_score, f_score, m_score),
        },
        index=summary.index,
    )
