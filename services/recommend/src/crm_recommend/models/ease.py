"""EASE: the closed-form item-item regression of Steck (2019), strong on dense catalogues."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from crm_recommend.models.base import Recommender, TrainingData


class EASE(Recommender):
    """Item weights B = argmin ||X - XB||² + λ||B||² with diag(B) = 0, in closed form.

    Training inverts an items x items matrix (memory and time grow with the square and
    cube of the catalogue), so catalogues above `max_items` are refused; ALS covers them.
    `binary` trains on 0/1 instead of the weights. `num_threads` bounds BLAS threads."""

    name = "ease"

    def __init__(
        self,
        *,
        regularization: float = 500.0,
        binary: bool = True,
        max_items: int = 20_000,
        num_threads: int = 1,
    ) -> None:
        super().__init__(
            regularization=regularization,
            binary=binary,
            max_items=max_items,
            num_threads=num_threads,
        )
        self.weights: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self.user_items = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> Self:
        if data.n_items > int(self.params["max_items"]):
            raise ValueError(
                f"EASE trains on at most {self.params['max_items']} items, got {data.n_items}"
            )
        self.n_items = data.n_items
        self.user_items = sp.csr_matrix(data.user_items, dtype=np.float32)
        matrix = self.user_items.copy()
        if self.params["binary"]:
            matrix.data[:] = 1.0
        with threadpool_limits(limits=int(self.params["num_threads"]) or None, user_api="blas"):
            gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float64)
            gram[np.diag_indices_from(gram)] += float(self.params["regularization"])
            precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = precision / -np.diag(precision)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        return self

    def _inputs(self, users: NDArray[np.int64]) -> sp.csr_matrix:
        rows = self.user_items[users]
        if self.params["binary"]:
            rows = rows.copy()
            rows.data[:] = 1.0
        return rows

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.asarray(self._inputs(users) @ self.weights, dtype=np.float32)

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        return self.weights[items]

    def _state(self) -> dict[str, Any]:
        return {"weights": self.weights, "user_items": self.user_items}

    def _restore(self, state: dict[str, Any]) -> None:
        self.weights = np.asarray(state["weights"], dtype=np.float32)
        self.user_items = sp.csr_matrix(state["user_items"], dtype=np.float32)
