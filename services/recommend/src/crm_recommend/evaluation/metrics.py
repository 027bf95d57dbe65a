"""Ranking metrics of top-k lists against held-out interactions (binary relevance).

Definitions follow the Microsoft Recommenders library (python_evaluation), so figures
compare with its published benchmarks. Every metric is the mean over the evaluated
users, each of whom has at least one held-out item:

- precision@k: hits in the top k / k;
- recall@k: hits in the top k / the user's number of held-out items;
- nDCG@k: sum of 1/log2(rank + 1) over the hits, divided by the same sum over ranks
  1..min(k, number of held-out items) (the ideal list);
- MAP@k: sum over the hits of (hits up to that rank / rank), divided by the user's
  number of held-out items (Recommenders' `map_at_k` as published in its benchmark);
- catalogue coverage: distinct items recommended to anyone / items in the catalogue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


@dataclass(frozen=True)
class RankingMetrics:
    k: int
    users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def hits_at_k(recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int) -> NDArray[np.bool_]:
    """hit[u, r]: the item at rank r + 1 of user u's list is one of u's relevant items.

    `recommended` has one row per row of `relevant`; -1 marks an empty slot."""
    top = np.asarray(recommended, dtype=np.int64)[:, :k]
    truth = sp.csr_matrix(relevant)
    filled = top >= 0
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1]).reshape(top.shape)
    found = np.zeros(top.shape, dtype=bool)
    if filled.any():
        values = np.asarray(truth[rows[filled], top[filled]]).ravel()
        found[filled] = values != 0
    return found


def _relevant_counts(relevant: sp.csr_matrix) -> NDArray[np.int64]:
    truth = sp.csr_matrix(relevant)
    truth.eliminate_zeros()
    counts: NDArray[np.int64] = np.diff(truth.indptr).astype(np.int64)
    return counts


def precision_at_k(recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int) -> float:
    hits, counts = hits_at_k(recommended, relevant, k), _relevant_counts(relevant)
    users = counts > 0
    return _mean(hits[users].sum(axis=1) / k)


def recall_at_k(recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int) -> float:
    hits, counts = hits_at_k(recommended, relevant, k), _relevant_counts(relevant)
    users = counts > 0
    return _mean(hits[users].sum(axis=1) / counts[users])


def ndcg_at_k(recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int) -> float:
    hits, counts = hits_at_k(recommended, relevant, k), _relevant_counts(relevant)
    users = counts > 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[users] * discounts[: hits.shape[1]]).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(counts[users], k)]
    return _mean(dcg / ideal)


def map_at_k(recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int) -> float:
    hits, counts = hits_at_k(recommended, relevant, k), _relevant_counts(relevant)
    users = counts > 0
    found = hits[users]
    ranks = np.arange(1, found.shape[1] + 1)
    precision_at_hits = np.cumsum(found, axis=1) / ranks * found
    return _mean(precision_at_hits.sum(axis=1) / counts[users])


def catalogue_coverage(recommended: NDArray[np.int64], n_items: int, k: int) -> float:
    top = np.asarray(recommended, dtype=np.int64)[:, :k]
    return float(len(np.unique(top[top >= 0])) / n_items) if n_items else 0.0


def ranking_metrics(
    recommended: NDArray[np.int64], relevant: sp.csr_matrix, k: int
) -> RankingMetrics:
    """All metrics at once for lists aligned with the rows of `relevant`."""
    return RankingMetrics(
        k=k,
        users=int((_relevant_counts(relevant) > 0).sum()),
        precision=precision_at_k(recommended, relevant, k),
        recall=recall_at_k(recommended, relevant, k),
        ndcg=ndcg_at_k(recommended, relevant, k),
        map=map_at_k(recommended, relevant, k),
        coverage=catalogue_coverage(recommended, relevant.shape[1], k),
    )


def _mean(values: NDArray[np.floating[Any]]) -> float:
    return float(values.mean()) if len(values) else 0.0
