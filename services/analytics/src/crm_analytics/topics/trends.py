"""Rating trends: per product the monthly average rating and count, and its slope.

Pure functions over a DataFrame of ratings (`product_id`, `rated_at`, `rating`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# A slope smaller than this (rating points per month, either way) reads as flat.
FLAT_SLOPE = 0.01

TREND_COLUMNS = ["product_id", "month", "ratings", "average_rating"]
SLOPE_COLUMNS = ["product_id", "months", "slope_per_month", "direction"]


def month_number(moments: pd.Series) -> pd.Series:
    """Months since year 0, so consecutive months differ by one."""
    stamps = pd.to_datetime(moments, utc=True)
    return (stamps.dt.year * 12 + stamps.dt.month - 1).astype(np.int64)


def monthly_ratings(ratings: pd.DataFrame, as_of: dt.date, months: int) -> pd.DataFrame:
    """Per product and month: number and mean of the ratings, for the `months` months up to
    and including the month of `as_of` (later ratings are left out), oldest month first."""
    if ratings.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    last = as_of.year * 12 + as_of.month - 1
    frame = ratings.assign(month=month_number(ratings["rated_at"]))
    frame = frame[(frame["month"] <= last) & (frame["month"] > last - months)]
    grouped = frame.groupby(["product_id", "month"], sort=True)["rating"].agg(["count", "mean"])
    trend = grouped.reset_index().rename(columns={"count": "ratings", "mean": "average_rating"})
    trend["ratings"] = trend["ratings"].astype(np.int64)
    trend["average_rating"] = trend["average_rating"].astype(np.float64)
    return trend[TREND_COLUMNS]


def slopes(trend: pd.DataFrame) -> pd.DataFrame:
    """Per product the least-squares slope of its monthly averages over time, each month
    weighted by its number of ratings, in rating points per month; `rising`, `falling` or
    `flat`, or `unknown` (no slope) with fewer than two months."""
    if trend.empty:
        return pd.DataFrame(columns=SLOPE_COLUMNS)
    w = trend["ratings"].astype(np.float64)
    x = trend["month"].astype(np.float64)
    x = x - x.groupby(trend["product_id"]).transform("min")
    y = trend["average_rating"]
    sums = (
        pd.DataFrame(
            {
                "product_id": trend["product_id"],
                "w": w,
                "wx": w * x,
                "wy": w * y,
                "wxx": w * x * x,
                "wxy": w * x * y,
                "months": 1,
            }
        )
        .groupby("product_id", sort=True)
        .sum()
    )
    denominator = sums["w"] * sums["wxx"] - sums["wx"] ** 2
    numerator = sums["w"] * sums["wxy"] - sums["wx"] * sums["wy"]
    valid = (sums["months"] >= 2) & (denominator > 0)
    slope = (numerator / denominator.where(valid)).where(valid)
    direction = np.select(
        [~valid, slope > FLAT_SLOPE, slope < -FLAT_SLOPE],
        ["unknown", "rising", "falling"],
        default="flat",
    )
    result = pd.DataFrame(
        {
            "product_id": sums.index,
            "months": sums["months"].astype(np.int64).to_numpy(),
            "slope_per_month": slope.to_numpy(),
            "direction": direction,
        }
    )
    return result.reset_index(drop=True)
