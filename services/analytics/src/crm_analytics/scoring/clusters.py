"""Customer clusters: KMeans over log-scaled, standardised RFM, value and behaviour
features, k chosen by silhouette, ids kept stable across runs (no I/O).

Candidates for every k in the configured range are fitted on a bounded sample and
scored by their silhouette on a smaller one; the best k is then refined on every
customer from the sample's centroids. Each cluster is profiled (centroid in original
units, size, revenue share) and named after the features where it stands out.

Ids: the previous run's centroids (stored in original units) are brought into this
run's standardised space and matched one-to-one to the new centroids by the Hungarian
algorithm on their distances, so "cluster 3" stays the same kind of customer from run
to run; a cluster with no predecessor gets an id never used before.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "average_order_value",
    "quantity",
    "tenure_days",
    "clv",
)
# A centroid further than this many standard deviations from the shop's mean on a
# feature is named after it.
STANDOUT = 0.5


@dataclass(frozen=True)
class ClusterParameters:
    k_min: int = 2
    k_max: int = 8
    min_customers: int = 50
    fit_sample: int = 20_000
    silhouette_sample: int = 4_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError("need 2 <= k_min <= k_max")
        if self.silhouette_sample < 10 or self.fit_sample < self.silhouette_sample:
            raise ValueError("need 10 <= silhouette_sample <= fit_sample")


@dataclass(frozen=True)
class PreviousCluster:
    """A cluster of an earlier run: its id and centroid in original units."""

    cluster_id: int
    centroid: Mapping[str, float]


@dataclass(frozen=True)
class ClusterResult:
    """Per customer (in the order of the features given): cluster id and label, or None
    when clustering was skipped (`report["skipped"]` says why); one profile per cluster."""

    cluster_ids: NDArray[np.int64] | None
    labels: NDArray[np.object_] | None
    profiles: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def customer_features(scores: pd.DataFrame) -> pd.DataFrame:
    """The clustering features from a run's scores (recency, frequency, monetary,
    quantity, clv) and purchase summary (tenure_days)."""
    frame = pd.DataFrame(index=scores.index)
    for name in ("recency_days", "frequency", "monetary", "quantity", "tenure_days"):
        frame[name] = scores[name].astype(np.float64)
    frame["average_order_value"] = frame["monetary"] / frame["frequency"].clip(lower=1)
    frame["clv"] = pd.to_numeric(scores["clv"], errors="coerce").astype(np.float64)
    return frame[list(FEATURES)].fillna(0.0)


@dataclass(frozen=True)
class _Scale:
    """log1p, then standardised: the space the clusters and their matching live in."""

    mean: NDArray[np.float64]
    std: NDArray[np.float64]

    @classmethod
    def of(cls, logged: NDArray[np.float64]) -> _Scale:
        std = logged.std(axis=0)
        return cls(logged.mean(axis=0), np.where(std > 0, std, 1.0))

    def to_space(self, original: NDArray[np.float64]) -> NDArray[np.float64]:
        return (np.log1p(np.clip(original, 0.0, None)) - self.mean) / self.std

    def to_original(self, standardised: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.expm1(standardised * self.std + self.mean)


def label_of(z: Mapping[str, float], centroid: Mapping[str, float]) -> str:
    """A name from where the centroid stands out (in standard deviations from the shop's
    mean): "recent frequent high spenders", "lapsed one-off buyers", ..."""
    words: list[str] = []
    if z["recency_days"] > STANDOUT:
        words.append("lapsed")
    elif z["recency_days"] < -STANDOUT:
        words.append("new" if z["tenure_days"] < -STANDOUT else "recent")
    if centroid["frequency"] < 1.5:
        words.append("one-off")
    elif z["frequency"] > STANDOUT:
        words.append("frequent")
    elif z["frequency"] < -STANDOUT:
        words.append("occasional")
    if z["monetary"] > STANDOUT:
        words.append("high spenders")
    elif z["monetary"] < -STANDOUT:
        words.append("low spenders")
    else:
        words.append("buyers")
    if words == ["buyers"]:
        return "typical buyers"
    return " ".join(words)


def _candidates(
    space: NDArray[np.float64], params: ClusterParameters, k_max: int
) -> tuple[KMeans, dict[int, float], int]:
    """The best KMeans over the k range on a sample, its silhouettes, and the sample size."""
    rng = np.random.default_rng(params.seed)
    n = len(space)
    fit_rows = (
        rng.choice(n, size=params.fit_sample, replace=False) if n > params.fit_sample else None
    )
    sample = space[fit_rows] if fit_rows is not None else space
    scored = (
        rng.choice(len(sample), size=params.silhouette_sample, replace=False)
        if len(sample) > params.silhouette_sample
        else np.arange(len(sample))
    )
    silhouettes: dict[int, float] = {}
    best: KMeans | None = None
    best_score = -np.inf
    for k in range(params.k_min, k_max + 1):
        model = KMeans(n_clusters=k, n_init=3, random_state=params.seed).fit(sample)
        assigned = model.labels_[scored]
        if len(np.unique(assigned)) < 2 or len(np.unique(assigned)) >= len(scored):
            continue
        silhouettes[k] = float(silhouette_score(sample[scored], assigned))
        if silhouettes[k] > best_score:
            best, best_score = model, silhouettes[k]
    if best is None:
        raise ValueError("no k in the range splits the customers")
    return best, silhouettes, len(sample)


def match_ids(
    centroids: NDArray[np.float64],
    sizes: NDArray[np.int64],
    previous: Sequence[PreviousCluster],
    scale: _Scale,
) -> tuple[NDArray[np.int64], int]:
    """An id per new centroid (standardised) and how many were matched to `previous`."""
    ids = np.full(len(centroids), -1, dtype=np.int64)
    matched = 0
    known = [cluster for cluster in previous if all(name in cluster.centroid for name in FEATURES)]
    if known:
        old = scale.to_space(
            np.array([[cluster.centroid[name] for name in FEATURES] for cluster in known])
        )
        rows, columns = linear_sum_assignment(cdist(centroids, old))
        for row, column in zip(rows, columns, strict=True):
            ids[row] = known[column].cluster_id
        matched = len(rows)
    used = {cluster.cluster_id for cluster in previous}
    next_id = max(used) + 1 if used else 0
    for row in np.argsort(-sizes, kind="stable"):
        if ids[row] < 0:
            ids[row] = next_id
            next_id += 1
    return ids, matched


def fit_clusters(
    features: pd.DataFrame,
    revenue: NDArray[np.float64],
    params: ClusterParameters,
    previous: Sequence[PreviousCluster] = (),
) -> ClusterResult:
    """Cluster the customers of `features` (columns `FEATURES`); `revenue` per customer
    gives each cluster's share of revenue."""
    with threadpool_limits(limits=1):  # OpenMP workers only spin on a shared machine
        return _fit_clusters(features, revenue, params, previous)


def _fit_clusters(
    features: pd.DataFrame,
    revenue: NDArray[np.float64],
    params: ClusterParameters,
    previous: Sequence[PreviousCluster],
) -> ClusterResult:
    started = time.perf_counter()
    report: dict[str, Any] = {"features": list(FEATURES), "skipped": None}
    n = len(features)
    if n < params.min_customers:
        return ClusterResult(
            None,
            None,
            report={**report, "skipped": f"{n} customers, fewer than {params.min_customers}"},
        )
    original = features[list(FEATURES)].to_numpy(dtype=np.float64)
    logged = np.log1p(np.clip(original, 0.0, None))
    scale = _Scale.of(logged)
    space = (logged - scale.mean) / scale.std
    distinct = len(np.unique(space[: min(n, 10 * params.k_max + 1)].round(9), axis=0))
    k_max = min(params.k_max, n - 1, max(distinct, params.k_min))
    try:
        candidate, silhouettes, sampled = _candidates(space, params, k_max)
    except ValueError as error:
        return ClusterResult(None, None, report={**report, "skipped": str(error)})
    k = int(candidate.n_clusters)
    if sampled < n:
        model = KMeans(n_clusters=k, init=candidate.cluster_centers_, n_init=1, max_iter=50)
        assigned = model.fit_predict(space)
    else:
        model = candidate
        assigned = candidate.labels_
    centroids = np.asarray(model.cluster_centers_, dtype=np.float64)
    sizes = np.bincount(assigned, minlength=k).astype(np.int64)
    ids, matched = match_ids(centroids, sizes, previous, scale)

    in_original = scale.to_original(centroids)
    cluster_revenue = np.bincount(assigned, weights=revenue, minlength=k)
    total_revenue = float(revenue.sum())
    names: list[str] = []
    profiles: list[dict[str, Any]] = []
    for row in range(k):
        centroid = {name: float(in_original[row, j]) for j, name in enumerate(FEATURES)}
        z = {name: float(centroids[row, j]) for j, name in enumerate(FEATURES)}
        names.append(label_of(z, centroid))
        profiles.append(
            {
                "cluster_id": int(ids[row]),
                "customers": int(sizes[row]),
                "revenue": float(cluster_revenue[row]),
                "revenue_share": float(cluster_revenue[row] / total_revenue)
                if total_revenue > 0
                else 0.0,
                "centroid": centroid,
            }
        )
    # Two clusters standing out the same way are told apart by their id.
    for row, name in enumerate(names):
        if names.count(name) > 1:
            names[row] = f"{name} ({int(ids[row])})"
    for row, profile in enumerate(profiles):
        profile["label"] = names[row]
    profiles.sort(key=lambda profile: int(profile["cluster_id"]))

    report.update(
        {
            "k": k,
            "k_range": [params.k_min, params.k_max],
            "silhouettes": {str(key): value for key, value in silhouettes.items()},
            "silhouette": silhouettes[k],
            "customers": n,
            "sampled": sampled,
            "matched_to_previous": matched,
            "previous_clusters": len(previous),
            "seconds": time.perf_counter() - started,
        }
    )
    return ClusterResult(
        ids[assigned],
        np.asarray(names, dtype=object)[assigned],
        profiles,
        report,
    )
