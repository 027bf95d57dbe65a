"""Churn risk: the probability that a customer buys nothing in the next h days (no I/O).

A classifier (histogram gradient boosting; a decision tree is kept as the baseline) is
trained on the training window of a `windows.TimeSplit`, measured on the validation
window (AUC, precision and recall at the 0.5 decision threshold, beside the AUC of
recency alone), then refitted on the validation window and applied to every customer
as of the run's day. Probabilities map to risk bands by two thresholds.

A window with too few customers, or with churners or buyers only, has nothing to learn
or measure: the model is skipped with the reason, the run goes on without it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from crm_analytics.scoring.windows import TimeSplit, Window

RISK_BANDS = ("low", "medium", "high")
Model = Literal["gradient_boosting", "decision_tree"]


@dataclass(frozen=True)
class ChurnParameters:
    medium_threshold: float = 0.5
    high_threshold: float = 0.8
    min_customers: int = 50
    min_class: int = 5
    training_sample: int = 200_000
    model: Model = "gradient_boosting"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.medium_threshold < self.high_threshold < 1:
            raise ValueError("need 0 < medium_threshold < high_threshold < 1")
        if self.min_customers < 2 or self.min_class < 1 or self.training_sample < 2:
            raise ValueError("min_customers >= 2, min_class >= 1, training_sample >= 2")


@dataclass(frozen=True)
class ChurnResult:
    """Per customer of the latest window (its order): the probability and band, or None
    when the model was skipped (`report["skipped"]` says why)."""

    probability: NDArray[np.float64] | None
    risk: NDArray[np.object_] | None
    report: dict[str, Any] = field(default_factory=dict)


def leaf_size(customers: int) -> int:
    """Leaves of 20 customers, fewer on a small shop (so that its trees can split at all)."""
    return max(2, min(20, customers // 10))


def classifier(model: Model, seed: int, customers: int) -> Any:
    if model == "decision_tree":
        return DecisionTreeClassifier(
            max_depth=6, min_samples_leaf=leaf_size(customers), random_state=seed
        )
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.05,
        max_depth=3,
        min_samples_leaf=leaf_size(customers),
        early_stopping=False,
        random_state=seed,
    )


def sample_rows(n: int, limit: int, seed: int) -> NDArray[np.int64]:
    """At most `limit` row positions out of `n`, drawn without replacement (all if fewer)."""
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _outcome(window: Window) -> NDArray[np.bool_]:
    if window.churned is None:
        raise ValueError(f"the window as of {window.cutoff} has no known outcome")
    return window.churned


def _unusable(window: Window, params: ChurnParameters, name: str) -> str | None:
    if len(window) < params.min_customers:
        return (
            f"the {name} window ({window.cutoff.isoformat()}) has {len(window)} customers, "
            f"fewer than {params.min_customers}"
        )
    churners = int(_outcome(window).sum())
    if min(churners, len(window) - churners) < params.min_class:
        return (
            f"the {name} window ({window.cutoff.isoformat()}) has {churners} churners and "
            f"{len(window) - churners} buyers; each needs at least {params.min_class}"
        )
    return None


def risk_bands(probability: NDArray[np.float64], params: ChurnParameters) -> NDArray[np.object_]:
    return np.where(
        probability >= params.high_threshold,
        "high",
        np.where(probability >= params.medium_threshold, "medium", "low"),
    ).astype(object)


def _fit(window: Window, params: ChurnParameters) -> Any:
    rows = sample_rows(len(window), params.training_sample, params.seed)
    model = classifier(params.model, params.seed, len(rows))
    model.fit(window.features[rows], _outcome(window)[rows])
    return model


def validation_quality(
    churned: NDArray[np.bool_], probability: NDArray[np.float64], recency: NDArray[Any]
) -> dict[str, Any]:
    predicted = probability >= 0.5
    return {
        "customers": len(churned),
        "churned": int(churned.sum()),
        "auc": float(roc_auc_score(churned, probability)),
        "precision": float(precision_score(churned, predicted, zero_division=0)),
        "recall": float(recall_score(churned, predicted, zero_division=0)),
        # The rule of thumb the model has to beat: the longer since the last purchase,
        # the likelier the churn.
        "recency_auc": float(roc_auc_score(churned, recency)),
    }


def fit_churn(split: TimeSplit, params: ChurnParameters) -> ChurnResult:
    """Train, validate, refit and score (module docstring), on one thread: OpenMP workers
    only spin against each other on a shared machine."""
    with threadpool_limits(limits=1):
        return _fit_churn(split, params)


def _fit_churn(split: TimeSplit, params: ChurnParameters) -> ChurnResult:
    """Train, validate, refit and score as described in the module docstring."""
    started = time.perf_counter()
    report: dict[str, Any] = {
        "model": params.model,
        "horizon_days": split.horizon_days,
        "thresholds": {"medium": params.medium_threshold, "high": params.high_threshold},
        "skipped": None,
    }
    for window, name in ((split.training, "training"), (split.validation, "validation")):
        reason = _unusable(window, params, name)
        if reason is not None:
            return ChurnResult(None, None, {**report, "skipped": reason})
    training_churned, validation_churned = _outcome(split.training), _outcome(split.validation)

    model = _fit(split.training, params)
    trained = time.perf_counter()
    validation_probability = model.predict_proba(split.validation.features)[:, 1]
    report["training"] = {
        "cutoff": split.training.cutoff.isoformat(),
        "customers": len(split.training),
        "churned": int(training_churned.sum()),
        "sampled": int(min(len(split.training), params.training_sample)),
        "seconds": trained - started,
    }
    report["validation"] = {
        "cutoff": split.validation.cutoff.isoformat(),
        **validation_quality(
            validation_churned,
            validation_probability,
            split.validation.summary["recency_days"].to_numpy(),
        ),
    }

    final = _fit(split.validation, params)
    probability = np.asarray(final.predict_proba(split.latest.features)[:, 1], dtype=np.float64)
    risk = risk_bands(probability, params)
    report["bands"] = {band: int((risk == band).sum()) for band in RISK_BANDS}
    report["seconds"] = time.perf_counter() - started
    return ChurnResult(probability, risk, report)
