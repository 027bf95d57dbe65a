"""Spend forecast: each customer's net spend in the next h days (no I/O).

A regressor (histogram gradient boosting) is trained on the training window of a
`windows.TimeSplit` (target: the spend in the h days after its cutoff), measured on the
validation window (MAE and RMSE per customer), then refitted on the validation window
and applied to every customer as of the run's day. On the same holdout two references
are measured: the BG/NBD x Gamma-Gamma expectation (expected purchases in h days times
expected spend per purchase, both fitted as of the validation cutoff) and the naive
mean (every customer spends the training window's mean).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from crm_analytics.scoring import clv
from crm_analytics.scoring.churn import leaf_size, sample_rows
from crm_analytics.scoring.windows import TimeSplit, Window


@dataclass(frozen=True)
class ForecastParameters:
    min_customers: int = 50
    training_sample: int = 200_000
    seed: int = 0


@dataclass(frozen=True)
class ForecastResult:
    """Forecast spend per customer of the latest window (its order), or None when the
    model was skipped (`report["skipped"]` says why)."""

    spend: NDArray[np.float64] | None
    report: dict[str, Any] = field(default_factory=dict)


def errors(actual: NDArray[np.float64], predicted: NDArray[np.float64]) -> dict[str, float]:
    difference = predicted - actual
    return {
        "mae": float(np.mean(np.abs(difference))),
        "rmse": float(math.sqrt(float(np.mean(difference**2)))),
        "predicted_total": float(predicted.sum()),
    }


def regressor(seed: int, customers: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.05,
        max_depth=3,
        min_samples_leaf=leaf_size(customers),
        early_stopping=False,
        random_state=seed,
    )


def _target(window: Window) -> NDArray[np.float64]:
    if window.next_spend is None:
        raise ValueError(f"the window as of {window.cutoff} has no known outcome")
    return window.next_spend


def _fit(window: Window, params: ForecastParameters) -> HistGradientBoostingRegressor:
    rows = sample_rows(len(window), params.training_sample, params.seed)
    model = regressor(params.seed, len(rows))
    model.fit(window.features[rows], _target(window)[rows])
    return model


def bgnbd_expected_spend(
    window: Window, horizon_days: int, sample: int, seed: int
) -> tuple[NDArray[np.float64] | None, str | None]:
    """BG/NBD x Gamma-Gamma spend over the next `horizon_days` per customer of `window`,
    fitted on (a sample of) the window itself; None and the reason when it cannot fit."""
    summary = window.summary
    x = (summary["purchase_days"].to_numpy() - 1).astype(np.float64)
    tenure = summary["tenure_days"].to_numpy().astype(np.float64)
    recency = summary["recency_days"].to_numpy().astype(np.float64)
    big_t, t_x = tenure / 7.0, (tenure - recency) / 7.0
    monetary = summary["monetary"].to_numpy(dtype=np.float64)
    repeat_mean = np.divide(
        monetary - summary["first_day_amount"].to_numpy(dtype=np.float64),
        x,
        out=np.zeros_like(x),
        where=x > 0,
    )
    rows = sample_rows(len(x), sample, seed)
    if int((x[rows] > 0).sum()) < 2:
        return None, "fewer than two repeat customers at the validation cutoff"
    try:
        bgnbd = clv.fit_bgnbd(x[rows], t_x[rows], big_t[rows])
        purchases = clv.expected_purchases(bgnbd, horizon_days / 7.0, x, t_x, big_t)
        usable_x, _ = clv.gamma_gamma_sample(x[rows], repeat_mean[rows])
        mean_order = float(monetary.sum() / max(summary["frequency"].sum(), 1))
        if len(usable_x) >= 2:
            gamma_gamma = clv.fit_gamma_gamma(x[rows], repeat_mean[rows])
            spend = clv.expected_spend(gamma_gamma, x, repeat_mean)
            if not math.isfinite(gamma_gamma.mean_spend):
                spend = np.where((x > 0) & (repeat_mean > 0), spend, mean_order)
        else:
            spend = np.full_like(x, mean_order)
    except (ValueError, FloatingPointError) as error:
        return None, f"the BG/NBD or Gamma-Gamma fit failed: {error}"
    expected = np.nan_to_num(np.asarray(purchases * spend, dtype=np.float64))
    return expected, None


def fit_forecast(split: TimeSplit, params: ForecastParameters) -> ForecastResult:
    """Train, validate, refit and score (module docstring), on one thread: OpenMP workers
    only spin against each other on a shared machine."""
    with threadpool_limits(limits=1):
        return _fit_forecast(split, params)


def _fit_forecast(split: TimeSplit, params: ForecastParameters) -> ForecastResult:
    """Train, validate against the references, refit and forecast (module docstring)."""
    started = time.perf_counter()
    report: dict[str, Any] = {
        "model": "gradient_boosting",
        "horizon_days": split.horizon_days,
        "skipped": None,
    }
    for window, name in ((split.training, "training"), (split.validation, "validation")):
        if len(window) < params.min_customers:
            reason = (
                f"the {name} window ({window.cutoff.isoformat()}) has {len(window)} "
                f"customers, fewer than {params.min_customers}"
            )
            return ForecastResult(None, {**report, "skipped": reason})
    training, validation = split.training, split.validation

    model = _fit(training, params)
    actual = _target(validation)
    predicted = np.clip(model.predict(validation.features), 0.0, None)
    bgnbd, bgnbd_skipped = bgnbd_expected_spend(
        validation, split.horizon_days, params.training_sample, params.seed
    )
    report["training"] = {
        "cutoff": training.cutoff.isoformat(),
        "customers": len(training),
        "sampled": int(min(len(training), params.training_sample)),
    }
    report["validation"] = {
        "cutoff": validation.cutoff.isoformat(),
        "customers": len(validation),
        "actual_total": float(actual.sum()),
        "model": errors(actual, predicted),
        "bgnbd": errors(actual, bgnbd) if bgnbd is not None else None,
        "bgnbd_skipped": bgnbd_skipped,
        "naive_mean": errors(actual, np.full_like(actual, float(_target(training).mean()))),
    }

    final = _fit(validation, params)
    spend = np.clip(np.asarray(final.predict(split.latest.features), dtype=np.float64), 0.0, None)
    report["customers"] = len(spend)
    report["forecast_total"] = float(spend.sum())
    report["seconds"] = time.perf_counter() - started
    return ForecastResult(spend, report)
