"""The learned customer models: churn and spend on CDNOW with a time split, clustering on
1,000,000 customers, each beside a baseline measured in the same run.

Churn and spend (`$CRM_DATA_DIR/cdnow/CDNOW_master.txt`: the full cohort of 23,570
customers who first bought in Q1 1997, tracked to 1998-06-30; each transaction is an
order line): the run's time split with h = 90 days, as of 1998-06-30, so the model is
trained on features as of 1998-01-01 labelled by the next 90 days and validated on
features as of 1998-04-01 labelled by the last 90 days. Beside the gradient-boosted
churn model in the same run: the decision-tree baseline and recency alone (AUC);
beside the spend forecast: BG/NBD x Gamma-Gamma and the naive mean (MAE, RMSE).
Training times are the median of five rounds, on one thread.

Clustering: 1,000,000 customers drawn around five planted kinds of customer (features
as the run computes them). Ours: k chosen by silhouette over 2..8 on a sample, refined
on everyone. Baseline: a plain scikit-learn KMeans with k fixed at 5 on everyone, on
the same log-scaled, standardised features. Both on one thread; agreement with the
planted groups as adjusted Rand index.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from bench.common import write_result
from crm_analytics.scoring import churn, clusters, forecast, windows

AS_OF = dt.date(1998, 6, 30)
HORIZON_DAYS = 90
ROUNDS = 5
CLUSTER_CUSTOMERS = int(os.environ.get("CRM_BENCH_CLUSTER_CUSTOMERS", "1000000"))
FIXED_K = 5
# Five kinds of customer, in original units: recency, frequency, monetary, tenure, clv.
PLANTED = (
    (5, 30, 3000, 900, 2500),
    (40, 8, 600, 700, 500),
    (120, 3, 150, 400, 90),
    (400, 1, 40, 420, 5),
    (15, 1, 60, 20, 40),
)


def cdnow_lines() -> pd.DataFrame:
    data_dir = Path(os.environ.get("CRM_DATA_DIR", Path(__file__).parents[2] / "shared" / "data"))
    path = data_dir / "cdnow" / "CDNOW_master.txt"
    if not path.exists():
        raise SystemExit(f"CDNOW is not at {path}; set CRM_DATA_DIR to the shared data folder.")
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1,
        names=["customer", "date", "cds", "dollars"],
        dtype=str,
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer"],
            "order_id": np.arange(len(raw)),
            "placed_at": pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "amount": raw["dollars"].astype(np.float64),
            "quantity": raw["cds"].astype(np.int64),
        }
    )


def median_seconds(work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def churn_and_spend() -> dict[str, Any]:
    lines = cdnow_lines()
    split = windows.time_split(lines, AS_OF, HORIZON_DAYS)
    boosted_seconds, boosted = median_seconds(
        lambda: churn.fit_churn(split, churn.ChurnParameters())
    )
    tree_seconds, tree = median_seconds(
        lambda: churn.fit_churn(split, churn.ChurnParameters(model="decision_tree"))
    )
    spend_seconds, spend = median_seconds(
        lambda: forecast.fit_forecast(split, forecast.ForecastParameters())
    )
    ours, baseline = boosted.report["validation"], tree.report["validation"]
    holdout = spend.report["validation"]
    return {
        "lines": len(lines),
        "horizon_days": HORIZON_DAYS,
        "training": boosted.report["training"],
        "churn": {
            "gradient_boosting": {**ours, "seconds": boosted_seconds},
            "decision_tree": {**baseline, "seconds": tree_seconds},
            "recency_auc": ours["recency_auc"],
            "auc_ratio": ours["auc"] / baseline["auc"],
            "bands": boosted.report["bands"],
        },
        "forecast": {
            "seconds": spend_seconds,
            "holdout_customers": holdout["customers"],
            "actual_total": holdout["actual_total"],
            "model": holdout["model"],
            "bgnbd": holdout["bgnbd"],
            "naive_mean": holdout["naive_mean"],
            "mae_ratio_bgnbd": holdout["bgnbd"]["mae"] / holdout["model"]["mae"],
        },
    }


def planted_customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(PLANTED), n)
    centres = np.array(PLANTED, dtype=np.float64)[truth]

    def noisy(column: int) -> np.ndarray:
        return centres[:, column] * rng.lognormal(0.0, 0.25, n)

    frequency = np.maximum(1.0, np.rint(noisy(1)))
    monetary = noisy(2)
    features = pd.DataFrame(
        {
            "recency_days": noisy(0),
            "frequency": frequency,
            "monetary": monetary,
            "average_order_value": monetary / frequency,
            "quantity": frequency * rng.uniform(1, 3, n),
            "tenure_days": noisy(3),
            "clv": noisy(4),
        }
    )
    return features, truth


def clustering() -> dict[str, Any]:
    features, truth = planted_customers(CLUSTER_CUSTOMERS, seed=2026)
    revenue = features["monetary"].to_numpy()
    params = clusters.ClusterParameters()
    started = time.perf_counter()
    ours = clusters.fit_clusters(features, revenue, params)
    ours_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with threadpool_limits(limits=1):
        logged = np.log1p(features[list(clusters.FEATURES)].to_numpy())
        space = (logged - logged.mean(axis=0)) / logged.std(axis=0)
        plain = KMeans(n_clusters=FIXED_K, random_state=0).fit(space)
    plain_seconds = time.perf_counter() - started
    if ours.cluster_ids is None:
        raise RuntimeError(f"clustering was skipped: {ours.report['skipped']}")
    return {
        "customers": CLUSTER_CUSTOMERS,
        "ours": {
            "seconds": ours_seconds,
            "k": ours.report["k"],
            "silhouettes": ours.report["silhouettes"],
            "sampled": ours.report["sampled"],
            "adjusted_rand": float(adjusted_rand_score(truth, ours.cluster_ids)),
            "labels": sorted(profile["label"] for profile in ours.profiles),
        },
        "plain_kmeans": {
            "seconds": plain_seconds,
            "k": FIXED_K,
            "iterations": int(plain.n_iter_),
            "adjusted_rand": float(adjusted_rand_score(truth, plain.labels_)),
        },
        "ratio": plain_seconds / ours_seconds,
    }


def main() -> None:
    result = {"cdnow": churn_and_spend(), "clustering": clustering()}
    write_result("analytics_models", result)
    print_table(result)


def print_table(result: dict[str, Any]) -> None:
    cdnow, clustered = result["cdnow"], result["clustering"]
    boosted, tree = cdnow["churn"]["gradient_boosting"], cdnow["churn"]["decision_tree"]
    print(
        f"churn on CDNOW ({boosted['customers']:,} customers validated): AUC "
        f"{boosted['auc']:.3f} in {boosted['seconds']:.2f} s vs decision tree "
        f"{tree['auc']:.3f} in {tree['seconds']:.2f} s, recency alone "
        f"{cdnow['churn']['recency_auc']:.3f}"
    )
    spend = cdnow["forecast"]
    print(
        f"spend forecast MAE {spend['model']['mae']:.2f} vs BG/NBD x Gamma-Gamma "
        f"{spend['bgnbd']['mae']:.2f} vs naive mean {spend['naive_mean']['mae']:.2f}"
    )
    ours, plain = clustered["ours"], clustered["plain_kmeans"]
    print(
        f"clustering {clustered['customers']:,} customers: ours (k={ours['k']} by silhouette) "
        f"{ours['seconds']:.1f} s ARI {ours['adjusted_rand']:.3f}; plain KMeans k={plain['k']} "
        f"{plain['seconds']:.1f} s ARI {plain['adjusted_rand']:.3f} ({clustered['ratio']:.2f}x)"
    )


if __name__ == "__main__":
    main()
