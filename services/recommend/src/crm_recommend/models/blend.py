"""A weighted blend of models: each one's scores standardised per customer, then summed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from crm_recommend.models.base import Recommender, TrainingData


class Blend(Recommender):
    """Sum of `weight x standardised score` over `components`.

    `components` is a list of {"model": name, "params": {...}, "weight": w}. Scores of
    each component are centred and scaled per customer (z-scores over the catalogue)
    before weighting, so models on different scales mix by their weights. Similar items
    come from the first component that offers a non-trivial notion of similarity: the
    one with the highest weight."""

    name = "blend"

    def __init__(self, *, components: Sequence[Mapping[str, Any]] = ()) -> None:
        specs: list[dict[str, Any]] = [
            {
                "model": str(c["model"]),
                "params": dict(c.get("params", {})),
                "weight": float(c["weight"]),
            }
            for c in components
        ]
        if not specs:
            raise ValueError("a blend needs at least one component")
        if any(spec["model"] == self.name for spec in specs):
            raise ValueError("a blend cannot contain a blend")
        super().__init__(components=specs)
        from crm_recommend.models import build  # the registry imports this module

        self.members: list[Recommender] = [build(s["model"], **s["params"]) for s in specs]
        self.weights = np.asarray([s["weight"] for s in specs], dtype=np.float32)

    def fit(self, data: TrainingData) -> Self:
        self.n_items = data.n_items
        for member in self.members:
            member.fit(data)
        return self

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        total = np.zeros((len(users), self.n_items), dtype=np.float32)
        for weight, member in zip(self.weights, self.members, strict=True):
            if weight:
                total += weight * _standardised(member.score(users))
        return total

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        return self.members[int(np.argmax(self.weights))].item_similarity(items)

    def save(self, directory: Path) -> None:
        for index, member in enumerate(self.members):
            member.save(directory / f"component-{index}")
        super().save(directory)

    @classmethod
    def load(cls, directory: Path) -> Self:
        model = super().load(directory)
        model.members = [
            type(member).load(directory / f"component-{index}")
            for index, member in enumerate(model.members)
        ]
        return model

    def _state(self) -> dict[str, Any]:
        return {}

    def _restore(self, state: dict[str, Any]) -> None:
        return None


def _standardised(scores: NDArray[np.float32]) -> NDArray[np.float32]:
    finite = np.where(np.isfinite(scores), scores, np.nan)
    mean = np.nanmean(finite, axis=1, keepdims=True)
    spread = np.nanstd(finite, axis=1, keepdims=True)
    spread = np.where(spread > 0, spread, 1.0)
    standardised: NDArray[np.float32] = (np.nan_to_num(finite - mean, nan=0.0) / spread).astype(
        np.float32
    )
    return standardised
