"""Item-item neighbours from co-occurrence: "customers who bought this also bought"."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from crm_recommend.models.base import Recommender, TrainingData

# Items whose co-occurrence rows are multiplied at once; bounds the dense block memory.
ITEM_BLOCK = 2048


class ItemKNN(Recommender):
    """Cosine similarity of item columns, optionally BM25-weighted, pruned to `neighbours`.

    `weighting`: "cosine" on the raw weights, or "bm25" (Okapi BM25 over customers: a
    product bought by everyone counts less, and very long histories are damped with
    `k1`/`b`). `shrink` lowers similarities that rest on few shared customers. A
    customer's score for an item is the sum of its similarities to the customer's items."""

    name = "item_knn"
    positive_only = True

    def __init__(
        self,
        *,
        neighbours: int = 200,
        weighting: str = "bm25",
        shrink: float = 0.0,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        if weighting not in {"cosine", "bm25"}:
            raise ValueError(f"weighting must be 'cosine' or 'bm25', not {weighting!r}")
        super().__init__(neighbours=neighbours, weighting=weighting, shrink=shrink, k1=k1, b=b)
        self.similarity = sp.csr_matrix((0, 0), dtype=np.float32)
        self.user_items = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> Self:
        self.n_items = data.n_items
        self.user_items = sp.csr_matrix(data.user_items, dtype=np.float32)
        weighted = self._weighted(self.user_items)
        columns = sp.csc_matrix(weighted)
        norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
        inverse = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        binary = self.user_items.copy()
        binary.data[:] = 1.0
        blocks = []
        for start in range(0, self.n_items, ITEM_BLOCK):
            stop = min(start + ITEM_BLOCK, self.n_items)
            dot = (columns[:, start:stop].T @ columns).toarray()
            dot *= inverse[start:stop, None] * inverse[None, :]
            if self.params["shrink"] > 0:
                shared = (binary[:, start:stop].T @ binary).toarray()
                dot *= shared / (shared + float(self.params["shrink"]))
            dot[np.arange(stop - start), np.arange(start, stop)] = 0.0
            blocks.append(_prune(dot, int(self.params["neighbours"])))
        self.similarity = sp.csr_matrix(sp.vstack(blocks), dtype=np.float32)
        return self

    def _weighted(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        if self.params["weighting"] == "cosine":
            return matrix
        k1, b = float(self.params["k1"]), float(self.params["b"])
        coo = matrix.tocoo()
        n_users = max(matrix.shape[0], 1)
        customers = np.bincount(coo.col, minlength=matrix.shape[1])
        idf = np.log(n_users) - np.log1p(customers)
        row_sums = np.bincount(coo.row, minlength=matrix.shape[0])
        length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), 1e-9)
        data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
        return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=matrix.shape)

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.asarray((self.user_items[users] @ self.similarity).toarray(), dtype=np.float32)

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        return self.similarity[items]

    def _state(self) -> dict[str, Any]:
        return {"similarity": self.similarity, "user_items": self.user_items}

    def _restore(self, state: dict[str, Any]) -> None:
        self.similarity = sp.csr_matrix(state["similarity"], dtype=np.float32)
        self.user_items = sp.csr_matrix(state["user_items"], dtype=np.float32)


def _prune(block: NDArray[np.float64], keep: int) -> sp.csr_matrix:
    """Keep the `keep` largest positive entries of every row."""
    cols = block.shape[1]
    if keep < cols:
        cut = np.argpartition(-block, keep - 1, axis=1)[:, keep:]
        np.put_along_axis(block, cut, 0.0, axis=1)
    block[block < 0] = 0.0
    return sp.csr_matrix(block.astype(np.float32))
