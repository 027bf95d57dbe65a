"""User-based collaborative filtering with Pearson correlation: the classic baseline."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from crm_recommend.models.base import Recommender, TrainingData


class UserKNN(Recommender):
    """Scores an item by how much the customer's K most correlated customers liked it.

    Correlation is Pearson's over the whole catalogue (a missing interaction is 0);
    only positively correlated neighbours count. The score of item i for customer u is
    sum over neighbours v of corr(u, v) x weight(v, i), divided by the sum of the
    neighbours' correlations. For item similarity it uses the cosine of item columns."""

    name = "user_knn"
    positive_only = True

    def __init__(self, *, neighbours: int = 200) -> None:
        super().__init__(neighbours=neighbours)
        self.user_items = sp.csr_matrix((0, 0), dtype=np.float32)
        self._means: NDArray[np.float64] = np.zeros(0)
        self._spreads: NDArray[np.float64] = np.zeros(0)

    def fit(self, data: TrainingData) -> Self:
        self.n_items = data.n_items
        self.user_items = sp.csr_matrix(data.user_items, dtype=np.float32)
        self._moments()
        return self

    def _moments(self) -> None:
        n = max(self.n_items, 1)
        sums = np.asarray(self.user_items.sum(axis=1), dtype=np.float64).ravel()
        squares = np.asarray(self.user_items.multiply(self.user_items).sum(axis=1)).ravel()
        self._means = sums / n
        self._spreads = np.sqrt(np.clip(squares - n * self._means**2, 0.0, None))

    def correlations(self, users: NDArray[np.int64]) -> NDArray[np.float64]:
        """Pearson correlation of each given user with every user (len(users) x n_users)."""
        n = max(self.n_items, 1)
        dots = (self.user_items[users] @ self.user_items.T).toarray().astype(np.float64)
        centred = dots - n * self._means[users, None] * self._means[None, :]
        spread = self._spreads[users, None] * self._spreads[None, :]
        return np.where(spread > 0, centred / np.where(spread > 0, spread, 1.0), 0.0)

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        users = np.asarray(users, dtype=np.int64)
        correlation = self.correlations(users)
        correlation[np.arange(len(users)), users] = 0.0
        keep = min(int(self.params["neighbours"]), correlation.shape[1])
        if keep < correlation.shape[1]:
            cut = np.argpartition(-correlation, keep - 1, axis=1)[:, keep:]
            np.put_along_axis(correlation, cut, 0.0, axis=1)
        correlation[correlation < 0] = 0.0
        totals = correlation.sum(axis=1, keepdims=True)
        weights = correlation / np.where(totals > 0, totals, 1.0)
        return np.asarray(sp.csr_matrix(weights).dot(self.user_items).toarray(), dtype=np.float32)

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        columns = sp.csc_matrix(self.user_items)
        norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
        inverse = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        dots = (columns[:, items].T @ columns).toarray()
        return np.asarray(dots * inverse[items, None] * inverse[None, :], dtype=np.float32)

    def _state(self) -> dict[str, Any]:
        return {"user_items": self.user_items}

    def _restore(self, state: dict[str, Any]) -> None:
        self.user_items = sp.csr_matrix(state["user_items"], dtype=np.float32)
        self._moments()
