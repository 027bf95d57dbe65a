"""The time split the learned customer models train and validate on (no I/O).

With `as_of` = T and a horizon of h days, three snapshots of every customer's purchase
summary are taken, each from the lines up to its cutoff only:

- training: as of T - 2h, labelled by what the customer did in (T - 2h, T - h];
- validation: as of T - h, labelled by (T - h, T]; the model trained on the training
  window is measured here, on customers and days it never saw the outcome of;
- latest: as of T, the one every customer is scored on (after a refit on the
  validation window, the freshest labelled one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_analytics.scoring import rfm

# The features the churn and spend models see, all known at the snapshot's cutoff.
FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "quantity",
    "tenure_days",
    "purchase_days",
    "average_order_value",
    "purchase_rate",
)


@dataclass(frozen=True)
class Window:
    """Customers with a purchase up to `cutoff`: their summary (`rfm.customer_summary`
    plus the derived features) and, when the following h days are known, whether they
    bought in them (`churned` is True when they did not) and how much they spent."""

    cutoff: dt.date
    summary: pd.DataFrame
    churned: NDArray[np.bool_] | None = None
    next_spend: NDArray[np.float64] | None = None

    @property
    def features(self) -> NDArray[np.float64]:
        values: NDArray[np.float64] = self.summary[list(FEATURES)].to_numpy(dtype=np.float64)
        return values

    def __len__(self) -> int:
        return len(self.summary)


@dataclass(frozen=True)
class TimeSplit:
    horizon_days: int
    training: Window
    validation: Window
    latest: Window


def with_features(summary: pd.DataFrame) -> pd.DataFrame:
    """The purchase summary with the derived features (average order value, purchase dates
    per year of tenure)."""
    frame = summary.copy()
    frame["average_order_value"] = frame["monetary"] / frame["frequency"].clip(lower=1)
    frame["purchase_rate"] = frame["purchase_days"] * 365.25 / (frame["tenure_days"] + 1)
    return frame


def _labelled(summary: pd.DataFrame, cutoff: dt.date, later: pd.DataFrame) -> Window:
    """`summary` as of `cutoff` labelled by `later`, the summary h days on."""
    last_later = later["last_purchase_at"].reindex(summary.index)
    boundary = pd.Timestamp(cutoff + dt.timedelta(days=1), tz="UTC")
    bought: NDArray[Any] = (last_later >= boundary).to_numpy(dtype=bool)
    spend = later["monetary"].reindex(summary.index).to_numpy(dtype=np.float64) - summary[
        "monetary"
    ].to_numpy(dtype=np.float64)
    return Window(
        cutoff=cutoff,
        summary=summary,
        churned=~bought,
        next_spend=np.clip(np.nan_to_num(spend), 0.0, None),
    )


def time_split(
    lines: pd.DataFrame,
    as_of: dt.date,
    horizon_days: int,
    latest_summary: pd.DataFrame | None = None,
) -> TimeSplit:
    """The three windows of `lines` around `as_of`; `latest_summary` (the run's own
    summary as of `as_of`) saves recomputing it."""
    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    horizon = dt.timedelta(days=horizon_days)
    validation_cutoff = as_of - horizon
    training_cutoff = as_of - 2 * horizon
    latest = with_features(
        latest_summary if latest_summary is not None else rfm.customer_summary(lines, as_of)
    )
    before = lines[
        lines["placed_at"] < pd.Timestamp(validation_cutoff + dt.timedelta(days=1), tz="UTC")
    ]
    validation = with_features(rfm.customer_summary(before, validation_cutoff))
    training = with_features(rfm.customer_summary(before, training_cutoff))
    return TimeSplit(
        horizon_days=horizon_days,
        training=_labelled(training, training_cutoff, validation),
        validation=_labelled(validation, validation_cutoff, latest),
        latest=Window(cutoff=as_of, summary=latest),
    )
