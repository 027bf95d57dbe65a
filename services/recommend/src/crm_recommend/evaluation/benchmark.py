"""The MovieLens 100k quality benchmark, protocol of Microsoft Recommenders' comparison.

Every rating is a positive. A stratified random split by item (75/25, seed 42) gives the
train and test sets; each model's hyper-parameters are chosen on a validation split cut
the same way from the training set only (75/25 of train, seed 42), by nDCG@10. The
chosen point is refitted on the whole training set and scored once on the test set:
top 10 per user, training items excluded."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_recommend.evaluation.datasets import movielens_100k
from crm_recommend.evaluation.offline import Evaluation, Interactions, fit_and_evaluate, tune

K = 10
SEED = 42
RATIO = 0.75

# Recommenders' published MovieLens 100k table (top 10, same split): MAP, nDCG@10, P@10, R@10.
PUBLISHED: dict[str, dict[str, float]] = {
    "BiVAE": {"map": 0.1461, "ndcg": 0.4751, "precision": 0.4118, "recall": 0.2191},
    "BPR": {"map": 0.1325, "ndcg": 0.4420, "precision": 0.3882, "recall": 0.2125},
    "LightGCN": {"map": 0.0885, "ndcg": 0.4198, "precision": 0.3796, "recall": 0.1443},
    "NCF": {"map": 0.1077, "ndcg": 0.3961, "precision": 0.3473, "recall": 0.1808},
    "SAR": {"map": 0.1106, "ndcg": 0.3825, "precision": 0.3308, "recall": 0.1764},
}
METRICS = ("map", "ndcg", "precision", "recall")
# The personalised model the service trains by default; the benchmark's headline row.
SERVED = "als"


@dataclass(frozen=True)
class Candidate:
    """A model to compare: its grid, fixed parameters and the interaction weights it sees
    ("binary": 1 per rating, "rating": the stars as weights)."""

    label: str
    model: str
    space: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    weight: str = "binary"
    # A blend of already tuned candidates: their labels; `space` then holds the weights.
    blends: tuple[str, ...] = ()


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("popularity", "popularity"),
    Candidate(
        "als",
        "als",
        space={
            "factors": [64, 128],
            "regularization": [30.0, 50.0, 70.0],
            "alpha": [1.0, 2.0, 3.0],
            "iterations": [15, 30],
        },
        weight="rating",
    ),
    Candidate(
        "ease", "ease", space={"regularization": [100.0, 200.0, 300.0, 500.0, 800.0, 1200.0]}
    ),
    Candidate(
        "item_knn",
        "item_knn",
        space={"neighbours": [50, 100, 200], "weighting": ["cosine", "bm25"]},
    ),
    Candidate("user_knn", "user_knn", space={"neighbours": [20, 50, 100, 200]}),
    Candidate(
        "blend", "blend", space={"als": [0.65, 0.8, 0.9]}, weight="rating", blends=("ease", "als")
    ),
)


@dataclass
class Row:
    label: str
    model: str
    weight: str
    params: dict[str, Any]
    validation: dict[str, Any]
    grid_points: int
    tuning_seconds: float
    test: Evaluation

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model": self.model,
            "weight": self.weight,
            "params": self.params,
            "validation": self.validation,
            "grid_points": self.grid_points,
            "tuning_seconds": round(self.tuning_seconds, 2),
            "test": self.test.as_dict(),
        }


def _splits(
    directory: Path | None, weight: str
) -> tuple[Interactions, Interactions, Interactions, Interactions]:
    data = movielens_100k(directory, weight=weight)
    train, test = data.split(RATIO, seed=SEED, by="item")
    fit, validation = train.split(RATIO, seed=SEED, by="item")
    return train, test, fit, validation


def run(
    directory: Path | None = None,
    *,
    candidates: Sequence[Candidate] = CANDIDATES,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Tune every candidate on validation, then score each once on the test split."""
    splits = {weight: _splits(directory, weight) for weight in {c.weight for c in candidates}}
    chosen: dict[str, tuple[Candidate, dict[str, Any]]] = {}
    rows = []
    for candidate in candidates:
        train, test, fit, validation = splits[candidate.weight]
        started = time.perf_counter()
        if candidate.blends:
            parts = [chosen[label] for label in candidate.blends]
            tried = [
                fit_and_evaluate(
                    candidate.model,
                    {"components": _components(parts, weights)},
                    fit.matrix(),
                    validation.matrix(),
                    k=K,
                )
                for weights in _blend_weights(candidate)
            ]
        else:
            tried = tune(
                candidate.model,
                candidate.space,
                fit.matrix(),
                validation.matrix(),
                k=K,
                fixed=candidate.fixed,
            ).tried
        best = max(tried, key=lambda run: run.metrics.ndcg)
        grid_points = len(tried)
        tuning_seconds = time.perf_counter() - started
        chosen[candidate.label] = (candidate, best.params)
        final = fit_and_evaluate(candidate.model, best.params, train.matrix(), test.matrix(), k=K)
        row = Row(
            candidate.label,
            candidate.model,
            candidate.weight,
            best.params,
            best.metrics.as_dict(),
            grid_points,
            tuning_seconds,
            final,
        )
        rows.append(row)
        log(
            f"{candidate.label:<11} validation nDCG@10 {best.metrics.ndcg:.4f} "
            f"({grid_points} points, {tuning_seconds:.1f} s) -> test nDCG@10 "
            f"{final.metrics.ndcg:.4f}, fit {final.fit_seconds:.2f} s"
        )
    return rows


def _blend_weights(candidate: Candidate) -> list[list[float]]:
    """Weights of the blended candidates: the space gives the last one's share."""
    shares = list(next(iter(candidate.space.values())))
    return [[round(1.0 - share, 6), share] for share in shares]


def _components(
    parts: Sequence[tuple[Candidate, dict[str, Any]]], weights: Sequence[float]
) -> list[dict[str, Any]]:
    return [
        {"model": part.model, "params": params, "weight": weight}
        for (part, params), weight in zip(parts, weights, strict=True)
    ]


def table(rows: Sequence[Row]) -> str:
    """Our rows beside the published ones, as a Markdown table."""
    lines = [
        "| model | MAP | nDCG@10 | Precision@10 | Recall@10 | coverage | fit (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        m = row.test.metrics
        lines.append(
            f"| {row.label} (ours) | {m.map:.4f} | {m.ndcg:.4f} | {m.precision:.4f} | "
            f"{m.recall:.4f} | {m.coverage:.3f} | {row.test.fit_seconds:.2f} |"
        )
    for name, figures in PUBLISHED.items():
        lines.append(
            f"| {name} (published) | {figures['map']:.4f} | {figures['ndcg']:.4f} | "
            f"{figures['precision']:.4f} | {figures['recall']:.4f} | - | - |"
        )
    return "\n".join(lines)
