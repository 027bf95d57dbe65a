"""A full scoring run: order lines in, one row of scores per customer out (no I/O).

`score_customers` chains the pure steps: the purchase summary and RFM (`rfm`), the
BG/NBD and Gamma-Gamma fits and CLV (`clv`), value score, tiers and lifecycle (`value`),
then the learned customer models: clusters (`clusters`), and on a time split (`windows`)
churn risk (`churn`) and the spend forecast (`forecast`).
Customers with no purchase up to `as_of` get no row (their stage, prospect, is the
caller's business).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.scoring import churn, clusters, clv, forecast, rfm, value, windows
from crm_analytics.scoring.clusters import PreviousCluster

DAYS_PER_MONTH = 365.25 / 12
# Below this many repeat buyers a fit says little; the models are skipped and the
# run falls back to plain averages (documented per column in docs/analytics-service.md).
MIN_REPEAT_CUSTOMERS = 2

SCORE_COLUMNS = (
    "first_purchase_at",
    "last_purchase_at",
    "recency_days",
    "frequency",
    "monetary",
    "quantity",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "value_score",
    "simple_value",
    "simple_value_rank",
    "expected_purchases",
    "probability_alive",
    "expected_order_value",
    "clv",
    "dcf_clv",
    "value_tier",
    "lifecycle_stage",
    "cluster_id",
    "cluster_label",
    "churn_probability",
    "churn_risk",
    "forecast_spend",
)


@dataclass(frozen=True)
class ScoringParameters:
    """What a scoring run is computed as of, and its tunable knobs.

    Lifecycle: new while the first purchase is at most `active_days` old, then active
    while the last purchase is at most `at_risk_days` old, at_risk up to `churned_days`,
    churned beyond.
    """

    as_of: dt.date
    clv_horizon_months: int = 12
    monthly_discount_rate: float = 0.01
    value_weights: tuple[float, float, float] = (0.3, 0.5, 0.2)
    tier_quantiles: tuple[float, float] = (0.5, 0.8)
    active_days: int = 90
    at_risk_days: int = 180
    churned_days: int = 365
    customer_models: bool = True
    model_horizon_days: int = 90
    model_min_customers: int = 50
    model_training_sample: int = 200_000
    churn_thresholds: tuple[float, float] = (0.5, 0.8)
    cluster_k_range: tuple[int, int] = (2, 8)
    cluster_fit_sample: int = 20_000
    cluster_silhouette_sample: int = 4_000
    # The previous run's clusters, so that the same kind of customer keeps its id.
    previous_clusters: tuple[PreviousCluster, ...] = ()

    def __post_init__(self) -> None:
        if self.clv_horizon_months < 1:
            raise ValueError("clv_horizon_months must be at least 1")
        if not 0 <= self.monthly_discount_rate < 1:
            raise ValueError("monthly_discount_rate must be within [0, 1)")
        if len(self.value_weights) != 3 or min(self.value_weights) < 0:
            raise ValueError("value_weights are three non-negative weights")
        low, high = self.tier_quantiles
        if not 0 <= low <= high <= 1:
            raise ValueError("tier_quantiles must satisfy 0 <= q1 <= q2 <= 1")
        if not 0 <= self.active_days <= self.at_risk_days <= self.churned_days:
            raise ValueError("need 0 <= active_days <= at_risk_days <= churned_days")
        if self.model_horizon_days < 1:
            raise ValueError("model_horizon_days must be at least 1")
        self.churn_parameters()
        self.cluster_parameters()

    def churn_parameters(self) -> churn.ChurnParameters:
        medium, high = self.churn_thresholds
        return churn.ChurnParameters(
            medium_threshold=medium,
            high_threshold=high,
            min_customers=self.model_min_customers,
            training_sample=self.model_training_sample,
        )

    def cluster_parameters(self) -> clusters.ClusterParameters:
        k_min, k_max = self.cluster_k_range
        return clusters.ClusterParameters(
            k_min=k_min,
            k_max=k_max,
            min_customers=self.model_min_customers,
            fit_sample=max(self.cluster_fit_sample, self.cluster_silhouette_sample),
            silhouette_sample=self.cluster_silhouette_sample,
        )


@dataclass(frozen=True)
class ScoringResult:
    """Scores per customer (index `customer_id`), the JSON-able fit report of the run and
    the profile of each customer cluster (`clusters.fit_clusters`)."""

    scores: pd.DataFrame
    fit: dict[str, Any]
    cluster_profiles: tuple[dict[str, Any], ...] = ()


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None: the fit report is stored and served as JSON."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _skipped(names: tuple[str, ...], reason: str) -> dict[str, Any]:
    """The fit report of a model that was not fitted: same keys, no values."""
    return {
        **dict.fromkeys(names),
        "log_likelihood": None,
        "converged": False,
        "iterations": 0,
        "customers": 0,
        "skipped": reason,
    }


def _empty_scores() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in SCORE_COLUMNS})
    frame.index.name = "customer_id"
    return frame


def score_customers(lines: pd.DataFrame, params: ScoringParameters) -> ScoringResult:
    """Score every customer with a purchase in `lines` as of `params.as_of`.

    `lines`: customer_id, order_id, placed_at (UTC), amount (net of refunds), quantity.
    A categorical `customer_id` is used as is (its codes), which is the fast path for
    millions of lines.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    summary = rfm.customer_summary(lines, params.as_of)
    timings["summary"] = time.perf_counter() - started
    counts: dict[str, Any] = {"lines": len(lines), "customers": len(summary)}
    if summary.empty:
        return ScoringResult(
            _empty_scores(),
            {
                "bgnbd": _skipped(("r", "alpha", "a", "b"), "no purchases"),
                "gamma_gamma": _skipped(("p", "q", "gamma"), "no purchases"),
                "timings": timings,
                "counts": counts,
            },
        )

    step = time.perf_counter()
    scores = summary.drop(columns=["tenure_days", "purchase_days", "first_day_amount"])
    scores = scores.join(rfm.rfm_scores(summary))
    frequency = summary["frequency"].to_numpy()
    monetary = summary["monetary"].to_numpy()
    scores["value_score"] = value.value_scores(
        summary["quantity"].to_numpy(), monetary, frequency, params.value_weights
    )
    scores["simple_value"] = value.simple_values(monetary, frequency)
    scores["simple_value_rank"] = value.descending_ranks(scores["simple_value"].to_numpy())
    timings["rfm"] = time.perf_counter() - step

    step = time.perf_counter()
    lifetime, fit = _lifetime_value(summary, params)
    timings["clv"] = time.perf_counter() - step
    for column, values in lifetime.items():
        scores[column] = values

    step = time.perf_counter()
    scores["value_tier"] = value.value_tiers(scores["clv"].to_numpy(), params.tier_quantiles)
    scores["lifecycle_stage"] = value.lifecycle_stages(
        summary["recency_days"].to_numpy(),
        summary["tenure_days"].to_numpy(),
        active_days=params.active_days,
        at_risk_days=params.at_risk_days,
        churned_days=params.churned_days,
    )
    timings["tiers"] = time.perf_counter() - step

    models_fit: dict[str, Any] = {}
    profiles: tuple[dict[str, Any], ...] = ()
    if params.customer_models:
        models_fit, profiles = _customer_models(lines, summary, scores, params, timings)
    else:
        for column in _MODEL_COLUMNS:
            scores[column] = None
    timings["total"] = time.perf_counter() - started

    repeaters = int((summary["purchase_days"] > 1).sum())
    counts.update(
        {
            "orders": int(frequency.sum()),
            "repeat_customers": repeaters,
            "segments": {
                str(name): int(n) for name, n in scores["rfm_segment"].value_counts().items()
            },
            "tiers": {str(name): int(n) for name, n in scores["value_tier"].value_counts().items()},
            "lifecycle": {
                str(name): int(n) for name, n in scores["lifecycle_stage"].value_counts().items()
            },
        }
    )
    return ScoringResult(
        scores[list(SCORE_COLUMNS)],
        _json_safe({**fit, **models_fit, "timings": timings, "counts": counts}),
        profiles,
    )


_MODEL_COLUMNS = (
    "cluster_id",
    "cluster_label",
    "churn_probability",
    "churn_risk",
    "forecast_spend",
)


def _customer_models(
    lines: pd.DataFrame,
    summary: pd.DataFrame,
    scores: pd.DataFrame,
    params: ScoringParameters,
    timings: dict[str, float],
) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """Clusters, churn risk and the spend forecast into `scores`; their fit reports and
    the cluster profiles. A model that cannot be fitted leaves its columns empty and
    says why in its report: it never fails the run."""
    n = len(scores)
    report: dict[str, Any] = {}
    profiles: tuple[dict[str, Any], ...] = ()

    step = time.perf_counter()
    cluster_ids = np.full(n, None, dtype=object)
    cluster_labels = np.full(n, None, dtype=object)
    try:
        features = clusters.customer_features(scores.join(summary["tenure_days"]))
        clustered = clusters.fit_clusters(
            features,
            scores["monetary"].to_numpy(dtype=np.float64),
            params.cluster_parameters(),
            params.previous_clusters,
        )
        report["clusters"] = clustered.report
        if clustered.cluster_ids is not None and clustered.labels is not None:
            cluster_ids = clustered.cluster_ids.astype(object)
            cluster_labels = clustered.labels
            profiles = tuple(clustered.profiles)
    except Exception as error:  # a model is optional to the run, never fatal
        report["clusters"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
    scores["cluster_id"] = cluster_ids
    scores["cluster_label"] = cluster_labels
    timings["clusters"] = time.perf_counter() - step

    step = time.perf_counter()
    probability = np.full(n, np.nan)
    risk = np.full(n, None, dtype=object)
    spend = np.full(n, np.nan)
    try:
        split = windows.time_split(lines, params.as_of, params.model_horizon_days, summary)
    except Exception as error:
        skipped = {"skipped": f"failed: {type(error).__name__}: {error}"}
        report["churn"], report["forecast"] = skipped, skipped
    else:
        timings["time_split"] = time.perf_counter() - step
        step = time.perf_counter()
        try:
            churned = churn.fit_churn(split, params.churn_parameters())
            report["churn"] = churned.report
            if churned.probability is not None and churned.risk is not None:
                probability, risk = churned.probability, churned.risk
        except Exception as error:
            report["churn"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
        timings["churn"] = time.perf_counter() - step
        step = time.perf_counter()
        try:
            forecasted = forecast.fit_forecast(
                split,
                forecast.ForecastParameters(
                    min_customers=params.model_min_customers,
                    training_sample=params.model_training_sample,
                ),
            )
            report["forecast"] = forecasted.report
            if forecasted.spend is not None:
                spend = forecasted.spend
        except Exception as error:
            report["forecast"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
        timings["forecast"] = time.perf_counter() - step
    scores["churn_probability"] = probability
    scores["churn_risk"] = risk
    scores["forecast_spend"] = spend
    return report, profiles


def _lifetime_value(
    summary: pd.DataFrame, params: ScoringParameters
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """BG/NBD + Gamma-Gamma CLV and the simple DCF CLV per customer, and the fit report.

    The models see purchase dates (same-day orders merged) in weeks: x repeat dates,
    t_x and T from the first purchase date to the last one and to `as_of`.
    """
    x = (summary["purchase_days"].to_numpy() - 1).astype(np.float64)
    tenure = summary["tenure_days"].to_numpy().astype(np.float64)
    recency = summary["recency_days"].to_numpy().astype(np.float64)
    big_t = tenure / 7.0
    t_x = (tenure - recency) / 7.0
    monetary = summary["monetary"].to_numpy()
    repeat_mean = np.divide(
        monetary - summary["first_day_amount"].to_numpy(),
        x,
        out=np.zeros_like(x),
        where=x > 0,
    )
    monthly_value = monetary / np.maximum(tenure / DAYS_PER_MONTH, 1.0)
    columns: dict[str, np.ndarray[Any, Any]] = {
        "dcf_clv": clv.dcf_clv(
            monthly_value,
            months=params.clv_horizon_months,
            monthly_discount_rate=params.monthly_discount_rate,
        )
    }
    mean_order = float(monetary.sum() / summary["frequency"].sum())
    fit: dict[str, Any] = {
        "horizon_months": params.clv_horizon_months,
        "monthly_discount_rate": params.monthly_discount_rate,
        "time_unit": "week",
    }

    if int((x > 0).sum()) < MIN_REPEAT_CUSTOMERS:
        fit["bgnbd"] = _skipped(("r", "alpha", "a", "b"), "fewer than two repeat customers")
        fit["gamma_gamma"] = _skipped(("p", "q", "gamma"), "fewer than two repeat customers")
        fit["gamma_gamma_excluded"] = 0
        columns.update(
            expected_purchases=np.zeros_like(x),
            probability_alive=np.ones_like(x),
            expected_order_value=np.full_like(x, mean_order),
            clv=np.zeros_like(x),
        )
        return columns, fit

    bgnbd = clv.fit_bgnbd(x, t_x, big_t)
    fit["bgnbd"] = bgnbd.as_dict()
    usable_x, _ = clv.gamma_gamma_sample(x, repeat_mean)
    if len(usable_x) >= MIN_REPEAT_CUSTOMERS:
        gamma_gamma = clv.fit_gamma_gamma(x, repeat_mean)
        fit["gamma_gamma"] = gamma_gamma.as_dict()
        spend = clv.expected_spend(gamma_gamma, x, repeat_mean)
        if not math.isfinite(gamma_gamma.mean_spend):
            # q ≤ 1 has no population mean: one-time buyers are valued at the shop's
            # mean order value instead.
            spend = np.where((x > 0) & (repeat_mean > 0), spend, mean_order)
    else:
        fit["gamma_gamma"] = _skipped(
            ("p", "q", "gamma"), "fewer than two repeat customers with a positive spend"
        )
        spend = np.full_like(x, mean_order)
    fit["gamma_gamma_excluded"] = int((x > 0).sum()) - len(usable_x)

    value_clv, purchases = clv.clv(
        bgnbd,
        spend,
        x,
        t_x,
        big_t,
        months=params.clv_horizon_months,
        monthly_discount_rate=params.monthly_discount_rate,
    )
    columns.update(
        expected_purchases=purchases,
        probability_alive=clv.probability_alive(bgnbd, x, t_x, big_t),
        expected_order_value=spend,
        clv=value_clv,
    )
    return columns, fit
