"""Customer clusters: planted groups are recovered and named, ids survive a refit on
reshuffled data, new clusters get fresh ids, small shops are skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crm_analytics.scoring import clusters

# Centres of three planted kinds of customer, in original units.
PLANTED = {
    "champions": {"recency_days": 8, "frequency": 25, "monetary": 2500, "tenure_days": 700},
    "lapsed": {"recency_days": 400, "frequency": 1, "monetary": 30, "tenure_days": 420},
    "regulars": {"recency_days": 60, "frequency": 5, "monetary": 300, "tenure_days": 500},
}


def planted_customers(per_group: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers scattered (log-normally, ~15 %) around the planted centres; the group of
    each, shuffled."""
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    for number, centre in enumerate(PLANTED.values()):
        noise = lambda: rng.lognormal(0.0, 0.15, per_group)  # noqa: E731
        frequency = np.maximum(1, np.rint(centre["frequency"] * noise()))
        monetary = centre["monetary"] * noise()
        frames.append(
            pd.DataFrame(
                {
                    "recency_days": centre["recency_days"] * noise(),
                    "frequency": frequency,
                    "monetary": monetary,
                    "average_order_value": monetary / frequency,
                    "quantity": frequency * 2,
                    "tenure_days": centre["tenure_days"] * noise(),
                    "clv": monetary * (0.05 if number == 1 else 0.8) * noise(),
                }
            )
        )
        truth.append(np.full(per_group, number))
    features = pd.concat(frames, ignore_index=True)
    order = rng.permutation(len(features))
    return features.iloc[order].reset_index(drop=True), np.concatenate(truth)[order]


def _fit(
    features: pd.DataFrame, previous: tuple[clusters.PreviousCluster, ...] = (), **knobs: int
) -> clusters.ClusterResult:
    return clusters.fit_clusters(
        features,
        features["monetary"].to_numpy(),
        clusters.ClusterParameters(**{"k_min": 2, "k_max": 6, **knobs}),
        previous,
    )


def _previous(result: clusters.ClusterResult) -> tuple[clusters.PreviousCluster, ...]:
    return tuple(
        clusters.PreviousCluster(profile["cluster_id"], profile["centroid"])
        for profile in result.profiles
    )


def _id_of_group(result: clusters.ClusterResult, truth: np.ndarray) -> dict[int, int]:
    assert result.cluster_ids is not None
    return {
        group: int(np.bincount(result.cluster_ids[truth == group]).argmax())
        for group in range(len(PLANTED))
    }


def test_planted_groups_are_recovered_profiled_and_named() -> None:
    features, truth = planted_customers(400, seed=1)
    result = _fit(features)

    assert result.report["k"] == 3
    assert result.report["silhouette"] == max(result.report["silhouettes"].values())
    assert result.cluster_ids is not None
    assert result.labels is not None
    assert adjusted_rand_score(truth, result.cluster_ids) > 0.98

    by_id = {profile["cluster_id"]: profile for profile in result.profiles}
    ids = _id_of_group(result, truth)
    champions, lapsed, regulars = (by_id[ids[group]] for group in range(3))
    assert champions["label"] == "recent frequent high spenders"
    assert lapsed["label"] == "lapsed one-off low spenders"
    assert "lapsed" not in regulars["label"]
    assert "one-off" not in regulars["label"]
    assert set(result.labels[truth == 1]) == {lapsed["label"]}

    assert sum(profile["customers"] for profile in result.profiles) == len(features)
    assert sum(profile["revenue_share"] for profile in result.profiles) == pytest.approx(1.0)
    assert champions["revenue_share"] > 0.8
    # centroids come back in original units, near the planted centres
    assert champions["centroid"]["frequency"] == pytest.approx(25, rel=0.1)
    assert lapsed["centroid"]["recency_days"] == pytest.approx(400, rel=0.1)
    assert regulars["centroid"]["monetary"] == pytest.approx(300, rel=0.1)


def test_ids_stay_with_their_kind_of_customer_across_runs() -> None:
    first_features, first_truth = planted_customers(300, seed=2)
    first = _fit(first_features)
    # the next run: other customers drawn around the same centres, in another order, and
    # a previous run whose ids were not 0..k-1
    renumbered = dict(zip(range(3), (7, 3, 11), strict=True))
    previous = tuple(
        clusters.PreviousCluster(renumbered[cluster.cluster_id], cluster.centroid)
        for cluster in _previous(first)
    )
    second_features, second_truth = planted_customers(350, seed=3)
    second = _fit(second_features, previous)

    assert second.report["matched_to_previous"] == 3
    before = _id_of_group(first, first_truth)
    after = _id_of_group(second, second_truth)
    assert after == {group: renumbered[before[group]] for group in range(3)}


def test_a_cluster_without_predecessor_gets_a_fresh_id() -> None:
    features, truth = planted_customers(300, seed=4)
    known = _fit(features[truth != 2].reset_index(drop=True), k_max=2)
    assert known.report["k"] == 2
    previous = tuple(
        clusters.PreviousCluster(cluster.cluster_id + 5, cluster.centroid)
        for cluster in _previous(known)
    )
    result = _fit(features, previous)
    ids = _id_of_group(result, truth)
    assert {ids[0], ids[1]} == {5, 6}
    assert ids[2] == 7


def test_candidates_on_a_sample_are_refined_on_everyone() -> None:
    features, truth = planted_customers(400, seed=5)
    result = _fit(features, fit_sample=300, silhouette_sample=100)
    assert result.report["sampled"] == 300
    assert result.cluster_ids is not None
    assert adjusted_rand_score(truth, result.cluster_ids) > 0.98


def test_too_few_customers_are_not_clustered() -> None:
    features, _ = planted_customers(10, seed=6)
    result = _fit(features)
    assert result.cluster_ids is None
    assert result.profiles == []
    assert result.report["skipped"] == "30 customers, fewer than 50"


def test_customer_features_come_from_the_scores() -> None:
    scores = pd.DataFrame(
        {
            "recency_days": [3, 30],
            "frequency": [4, 1],
            "monetary": [200.0, 15.0],
            "quantity": [8, 1],
            "tenure_days": [300, 30],
            "clv": [120.0, None],
        },
        index=pd.Index(["a", "b"], name="customer_id"),
    )
    features = clusters.customer_features(scores)
    assert list(features.columns) == list(clusters.FEATURES)
    assert features.loc["a", "average_order_value"] == 50.0
    assert features.loc["b", "clv"] == 0.0
