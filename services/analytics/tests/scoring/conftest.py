"""A simulated shop whose churners stop buying, for the churn and spend model tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

AS_OF = dt.date(2026, 11, 1)
HISTORY_DAYS = 3 * 365


def stopping_shop(customers: int, seed: int) -> pd.DataFrame:
    """Order lines of `customers` who each buy at their own steady rate (one order every
    10 to 60 days) and spend their own amount per order; 60 % of them stop buying for
    good at a random day of the history, the rest keep going to `AS_OF`."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(AS_OF, tz="UTC") - pd.Timedelta(days=HISTORY_DAYS)
    first = rng.uniform(0, HISTORY_DAYS * 0.6, customers)
    gap = rng.uniform(10, 60, customers)
    order_value = rng.lognormal(3.5, 0.6, customers)
    stops = np.where(
        rng.random(customers) < 0.6, rng.uniform(first, HISTORY_DAYS), HISTORY_DAYS + 1
    )
    rows: list[tuple[str, str, pd.Timestamp, float, int]] = []
    for customer in range(customers):
        day = first[customer]
        number = 0
        while day <= min(stops[customer], HISTORY_DAYS - 1):
            amount = round(float(order_value[customer] * rng.uniform(0.8, 1.2)), 2)
            rows.append(
                (
                    f"c{customer:05d}",
                    f"o{customer:05d}-{number}",
                    start + pd.Timedelta(days=float(day)),
                    amount,
                    1,
                )
            )
            number += 1
            day += rng.exponential(gap[customer])
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "placed_at", "amount", "quantity"]
    )


@pytest.fixture(scope="session")
def churning_shop() -> pd.DataFrame:
    return stopping_shop(1_500, seed=5)
