"""Implicit-feedback matrix factorisation (ALS): the main personalised model."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from crm_recommend.models.base import Recommender, TrainingData, cosine_rows


class ALS(Recommender):
    """Alternating least squares on confidence 1 + alpha x weight (Hu, Koren, Volinsky).

    The implicit library does not scale `regularization` by interaction counts, so it
    needs a large value (tens) on dense data such as MovieLens; it trades off against
    `alpha` x the weights' scale. The defaults are the values chosen on MovieLens 100k
    with 1-5 star weights (docs/recommend-service.md). `num_threads` bounds training
    threads (0: all cores); BLAS runs single-threaded meanwhile, so the two never
    oversubscribe the machine."""

    name = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 50.0,
        alpha: float = 2.0,
        iterations: int = 30,
        seed: int = 42,
        num_threads: int = 1,
    ) -> None:
        super().__init__(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            seed=seed,
            num_threads=num_threads,
        )
        self.user_factors: NDArray[np.float32] = np.zeros((0, factors), dtype=np.float32)
        self.item_factors: NDArray[np.float32] = np.zeros((0, factors), dtype=np.float32)
        self._unit_items: NDArray[np.float32] | None = None

    def fit(self, data: TrainingData) -> Self:
        self.n_items = data.n_items
        confidence = sp.csr_matrix(data.user_items, dtype=np.float32, copy=True)
        confidence.data *= np.float32(self.params["alpha"])
        # implicit adds the 1 of "1 + alpha x weight" itself; alpha is applied here so
        # it is an ordinary parameter of the saved model.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=int(self.params["factors"]),
                regularization=float(self.params["regularization"]),
                alpha=1.0,
                iterations=int(self.params["iterations"]),
                random_state=int(self.params["seed"]),
                num_threads=int(self.params["num_threads"]),
                calculate_training_loss=False,
            )
            model.fit(confidence, show_progress=False)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._unit_items = None
        return self

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.asarray(self.user_factors[users] @ self.item_factors.T, dtype=np.float32)

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        if self._unit_items is None:
            self._unit_items = cosine_rows(self.item_factors)
        return np.asarray(self._unit_items[items] @ self._unit_items.T, dtype=np.float32)

    def _state(self) -> dict[str, Any]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, state: dict[str, Any]) -> None:
        self.user_factors = np.asarray(state["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(state["item_factors"], dtype=np.float32)
        self._unit_items = None
