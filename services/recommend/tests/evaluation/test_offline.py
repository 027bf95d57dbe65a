"""Fitting, evaluating and tuning on interaction lists, without any data set on disk."""

from __future__ import annotations

import numpy as np

from crm_recommend.evaluation import Interactions, evaluate, grid, tune
from crm_recommend.models import TrainingData, build


def _clustered(seed: int = 9) -> Interactions:
    """Two groups of customers, each buying inside its own half of 20 products."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(200):
        half = user % 2
        for item in rng.choice(10, size=6, replace=False):
            users.append(user)
            items.append(half * 10 + item)
    return Interactions(
        np.asarray(users, dtype=np.int64),
        np.asarray(items, dtype=np.int64),
        np.ones(len(users), dtype=np.float32),
        200,
        20,
    )


def test_grid_is_every_combination() -> None:
    assert grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert grid({}) == [{}]


def test_split_keeps_every_interaction_exactly_once() -> None:
    data = _clustered()
    train, test = data.split(0.75, seed=42)
    assert len(train.users) + len(test.users) == len(data.users)
    pairs = set(zip(train.users.tolist(), train.items.tolist(), strict=True))
    assert pairs.isdisjoint(zip(test.users.tolist(), test.items.tolist(), strict=True))


def test_evaluate_scores_users_with_training_and_held_out_items() -> None:
    train, test = _clustered().split(0.75, seed=42)
    model = build("item_knn").fit(TrainingData(user_items=train.matrix()))
    metrics, _ = evaluate(model, train.matrix(), test.matrix(), k=5)
    has_both = (np.diff(train.matrix().indptr) > 0) & (np.diff(test.matrix().indptr) > 0)
    assert metrics.users == has_both.sum()
    # Only same-half products are ever bought together, so hits are frequent.
    assert metrics.precision > 0.3


def test_tune_tries_every_point_and_keeps_the_best() -> None:
    train, validation = _clustered().split(0.75, seed=42)
    tuning = tune("user_knn", {"neighbours": [1, 50]}, train.matrix(), validation.matrix(), k=5)
    assert [run.params["neighbours"] for run in tuning.tried] == [1, 50]
    assert tuning.best.metrics.ndcg == max(run.metrics.ndcg for run in tuning.tried)
