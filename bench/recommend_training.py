"""Training time of the served personalised model (ALS) on 10M synthetic interactions.

100,000 customers x 50,000 products, 10,000,000 distinct interactions with a Zipf-like
product popularity and customer activity, as the service trains them (float32 weights,
CSR). Fits ALS with the service's default parameters on both cores, then measures two
baselines in the same run: fitting popularity (one pass over the interactions) and the
sparse products that any factor model pays per iteration, X @ item_factors and
X.T @ user_factors at the same factor count (scipy), times the iterations. Takes a few
minutes on two quiet cores (about ten when the machine is busy with other work).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from bench.common import write_result
from crm_recommend.models import TrainingData, build

USERS = int(os.environ.get("CRM_BENCH_RECOMMEND_USERS", "100000"))
ITEMS = int(os.environ.get("CRM_BENCH_RECOMMEND_ITEMS", "50000"))
INTERACTIONS = int(os.environ.get("CRM_BENCH_RECOMMEND_INTERACTIONS", "10000000"))
THREADS = 2
SEED = 17


def synthetic_interactions() -> sp.csr_matrix:
    """Distinct (customer, product) pairs until INTERACTIONS of them exist."""
    rng = np.random.default_rng(SEED)
    item_weight = 1.0 / np.arange(1, ITEMS + 1) ** 0.6
    item_weight /= item_weight.sum()
    user_weight = rng.lognormal(0.0, 0.8, USERS)
    user_weight /= user_weight.sum()
    user_cdf, item_cdf = np.cumsum(user_weight), np.cumsum(item_weight)
    keys = np.empty(0, dtype=np.int64)
    # Popular pairs repeat; each round draws enough for the share of new pairs seen so far.
    new_share = 1.0
    while len(keys) < INTERACTIONS:
        draw = int((INTERACTIONS - len(keys)) * 1.1 / new_share) + 1000
        users = _draw(rng, user_cdf, draw)
        items = rng.permutation(ITEMS)[_draw(rng, item_cdf, draw)]
        before = len(keys)
        keys = _distinct(np.concatenate([keys, users * ITEMS + items]))
        new_share = max((len(keys) - before) / draw, 0.05)
    keys = rng.permutation(keys)[:INTERACTIONS]
    weights = rng.choice(np.array([1.0, 2.0, 4.0], dtype=np.float32), size=len(keys))
    return sp.csr_matrix((weights, (keys // ITEMS, keys % ITEMS)), shape=(USERS, ITEMS))


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the probabilities whose running sum is `cdf`."""
    return np.searchsorted(cdf / cdf[-1], rng.random(size), side="right").astype(np.int64)


def _distinct(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def _seconds(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    started = time.perf_counter()
    matrix = synthetic_interactions()
    print(f"{matrix.nnz:,} interactions built in {time.perf_counter() - started:.1f} s", flush=True)
    data = TrainingData(user_items=matrix)
    als = build("als", num_threads=THREADS)
    params = als.params
    als_seconds = _seconds(lambda: als.fit(data))
    print(f"ALS {params}: {als_seconds:.1f} s", flush=True)
    popularity_seconds = _seconds(lambda: build("popularity").fit(data))
    factors, iterations = int(params["factors"]), int(params["iterations"])
    rng = np.random.default_rng(SEED)
    item_factors = rng.standard_normal((ITEMS, factors), dtype=np.float32)
    user_factors = rng.standard_normal((USERS, factors), dtype=np.float32)
    transposed = matrix.T.tocsr()
    product_seconds = _seconds(lambda: (matrix @ item_factors, transposed @ user_factors))
    floor_seconds = product_seconds * iterations
    print(
        f"popularity {popularity_seconds:.2f} s; sparse products {product_seconds:.2f} s per "
        f"iteration, {floor_seconds:.1f} s for {iterations}",
        flush=True,
    )
    write_result(
        "recommend_training",
        {
            "benchmark": "recommend_training",
            "users": USERS,
            "items": ITEMS,
            "interactions": int(matrix.nnz),
            "model": "als",
            "params": params,
            "threads": THREADS,
            "als_seconds": round(als_seconds, 2),
            "als_interactions_per_s": round(matrix.nnz * iterations / als_seconds),
            "popularity_seconds": round(popularity_seconds, 3),
            "sparse_products_seconds": round(floor_seconds, 2),
            "ratio_to_sparse_products": round(als_seconds / floor_seconds, 2),
        },
    )


if __name__ == "__main__":
    main()
