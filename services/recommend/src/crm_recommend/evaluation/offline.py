"""Offline evaluation: fit models on one split, rank held-out interactions, tune on a
validation split cut from training data only."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from crm_recommend.evaluation.metrics import RankingMetrics, ranking_metrics
from crm_recommend.evaluation.split import stratified_split
from crm_recommend.models import Recommender, TrainingData, build


@dataclass(frozen=True)
class Interactions:
    """A list of (user, item, weight) with dense indices, as the evaluation splits it."""

    users: NDArray[np.int64]
    items: NDArray[np.int64]
    weights: NDArray[np.float32]
    n_users: int
    n_items: int

    def matrix(self, mask: NDArray[np.bool_] | None = None) -> sp.csr_matrix:
        keep = slice(None) if mask is None else mask
        matrix = sp.csr_matrix(
            (self.weights[keep], (self.users[keep], self.items[keep])),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        matrix.sum_duplicates()
        return matrix

    def subset(self, mask: NDArray[np.bool_]) -> Interactions:
        return Interactions(
            self.users[mask], self.items[mask], self.weights[mask], self.n_users, self.n_items
        )

    def split(
        self, ratio: float = 0.75, *, seed: int = 42, by: str = "item"
    ) -> tuple[Interactions, Interactions]:
        in_train = stratified_split(self.users, self.items, ratio, seed=seed, by=by)
        return self.subset(in_train), self.subset(~in_train)


@dataclass(frozen=True)
class Evaluation:
    model: str
    params: dict[str, Any]
    metrics: RankingMetrics
    fit_seconds: float
    recommend_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            **self.metrics.as_dict(),
            "fit_seconds": round(self.fit_seconds, 3),
            "recommend_seconds": round(self.recommend_seconds, 3),
        }


@dataclass
class Tuning:
    """The validation figures of every grid point and the point chosen."""

    model: str
    metric: str
    tried: list[Evaluation] = field(default_factory=list)

    @property
    def best(self) -> Evaluation:
        return max(self.tried, key=lambda run: getattr(run.metrics, self.metric))


def evaluate(
    model: Recommender, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10
) -> tuple[RankingMetrics, float]:
    """Metrics of a fitted model's top-k lists, training items excluded, over the users
    with both training and held-out interactions; and the seconds spent recommending."""
    has_train = np.diff(sp.csr_matrix(train).indptr) > 0
    has_test = np.diff(sp.csr_matrix(test).indptr) > 0
    users = np.flatnonzero(has_train & has_test).astype(np.int64)
    started = time.perf_counter()
    recommended, _ = model.recommend(users, k, seen=train[users])
    seconds = time.perf_counter() - started
    return ranking_metrics(recommended, test[users], k), seconds


def fit_and_evaluate(
    name: str,
    params: Mapping[str, Any],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    k: int = 10,
    item_text: Sequence[str] | None = None,
) -> Evaluation:
    model = build(name, **params)
    started = time.perf_counter()
    model.fit(TrainingData(user_items=train, item_text=item_text))
    fit_seconds = time.perf_counter() - started
    metrics, recommend_seconds = evaluate(model, train, test, k)
    return Evaluation(name, dict(params), metrics, fit_seconds, recommend_seconds)


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values in `space` (a dict of parameter -> values)."""
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*space.values())]


def tune(
    name: str,
    space: Mapping[str, Sequence[Any]],
    train: sp.csr_matrix,
    validation: sp.csr_matrix,
    *,
    k: int = 10,
    metric: str = "ndcg",
    fixed: Mapping[str, Any] | None = None,
) -> Tuning:
    """Fit every grid point on `train`, score it on `validation`: never on the test split."""
    tuning = Tuning(name, metric)
    for point in grid(space):
        params = {**(fixed or {}), **point}
        tuning.tried.append(fit_and_evaluate(name, params, train, validation, k=k))
    return tuning
