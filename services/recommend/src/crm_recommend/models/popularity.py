"""Popular and trending products: the cold-start lists for customers without history."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from crm_recommend.models.base import Recommender, TrainingData


class Popularity(Recommender):
    """Every customer gets the products most customers interacted with.

    `weighted`: rank by the sum of interaction weights (recency already applied by the
    caller) instead of the number of distinct customers."""

    name = "popularity"
    positive_only = True

    def __init__(self, *, weighted: bool = False) -> None:
        super().__init__(weighted=weighted)
        self.item_scores: NDArray[np.float32] = np.zeros(0, dtype=np.float32)

    def fit(self, data: TrainingData) -> Self:
        self.n_items = data.n_items
        self.item_scores = self._item_scores(data)
        return self

    def _item_scores(self, data: TrainingData) -> NDArray[np.float32]:
        matrix = sp.csr_matrix(data.user_items)
        if self.params["weighted"]:
            totals = np.asarray(matrix.sum(axis=0)).ravel()
        else:
            totals = np.bincount(matrix.indices, minlength=data.n_items)
        return totals.astype(np.float32)

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.broadcast_to(self.item_scores, (len(users), self.n_items)).copy()

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        return np.broadcast_to(self.item_scores, (len(items), self.n_items))

    def _state(self) -> dict[str, Any]:
        return {"item_scores": self.item_scores}

    def _restore(self, state: dict[str, Any]) -> None:
        self.item_scores = np.asarray(state["item_scores"], dtype=np.float32)


class Trending(Popularity):
    """Popularity of recent activity: summed (recency-weighted) interactions, halved for
    every `half_life_days` since the product's latest interactions."""

    name = "trending"

    def __init__(self, *, half_life_days: float = 7.0, weighted: bool = True) -> None:
        Recommender.__init__(self, half_life_days=half_life_days, weighted=weighted)
        self.item_scores = np.zeros(0, dtype=np.float32)

    def _item_scores(self, data: TrainingData) -> NDArray[np.float32]:
        totals = super()._item_scores(data)
        if data.item_age_days is None:
            return totals
        age = np.clip(np.asarray(data.item_age_days, dtype=np.float64), 0.0, None)
        decay = np.exp2(-age / float(self.params["half_life_days"]))
        return (totals * decay).astype(np.float32)
