"""What every recommendation model shares: its training data, its interface, top-n and files."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

PARAMS_FILE = "params.json"
ARRAYS_FILE = "arrays.npz"
# Rows (customers or products) scored per dense block: at most BLOCK_CELLS scores and
# MAX_BLOCK_ROWS rows at once, so memory stays bounded on large catalogues.
BLOCK_CELLS = 1 << 23
MAX_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class TrainingData:
    """Interactions and catalogue facts a model trains on; rows and columns are indices.

    `user_items` holds one float32 weight per (customer, product) pair, recency already
    applied; `item_text` is name, description and category per product (content
    similarity); `item_age_days` the days since each product's latest interactions
    (trending)."""

    user_items: sp.csr_matrix
    item_text: Sequence[str] | None = None
    item_category: Sequence[str | None] | None = None
    item_age_days: NDArray[np.float64] | None = None

    @property
    def n_users(self) -> int:
        return int(self.user_items.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.user_items.shape[1])


class Recommender(ABC):
    """A trained model: personal top-n lists, similar items, and a directory of files.

    Subclasses keep their hyper-parameters in `params` (what `build(name, **params)`
    takes) and their learned state in named numpy arrays (`_state`/`_restore`), so a
    saved model is plain `.npz` + JSON and loading runs no stored code."""

    name: ClassVar[str]
    # True when a score of zero or less means "no evidence": such items are left out of
    # lists (padded with -1) rather than filled in arbitrary order.
    positive_only: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = params
        self.n_items = 0

    @abstractmethod
    def fit(self, data: TrainingData) -> Self: ...

    @abstractmethod
    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        """Dense scores (len(users) x n_items); higher is better."""

    @abstractmethod
    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        """Rows of item-to-item similarity (len(items) x n_items); higher is more alike."""

    @abstractmethod
    def _state(self) -> dict[str, NDArray[Any] | sp.csr_matrix]: ...

    @abstractmethod
    def _restore(self, state: dict[str, NDArray[Any] | sp.csr_matrix]) -> None: ...

    def recommend(
        self, users: NDArray[np.int64], n: int, *, seen: sp.csr_matrix | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Top-n item indices and scores per user, best first, padded with -1 / -inf
        (when the catalogue runs out, or for `positive_only` models the evidence).

        `seen` marks items never to recommend: either one row per entry of `users`, or
        the whole user x item matrix (indexed by the user indices) when its row count
        differs from len(users)."""
        users = np.asarray(users, dtype=np.int64)
        seen_rows = _aligned_rows(seen, users)
        items = np.full((len(users), n), -1, dtype=np.int64)
        scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        for start, stop in _batches(len(users), _rows_per_block(self.n_items)):
            block = self.score(users[start:stop])
            if self.positive_only:
                block[block <= 0] = -np.inf
            excluded = None if seen_rows is None else seen_rows[start:stop]
            items[start:stop], scores[start:stop] = top_n(block, n, excluded)
        return items, scores

    def similar_items(
        self, items: NDArray[np.int64], n: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The n items most like each given item (never the item itself), -1/-inf padded;
        items with no positive similarity are left out."""
        items = np.asarray(items, dtype=np.int64)
        found = np.full((len(items), n), -1, dtype=np.int64)
        scores = np.full((len(items), n), -np.inf, dtype=np.float32)
        for start, stop in _batches(len(items), _rows_per_block(self.n_items)):
            block = items[start:stop]
            found[start:stop], scores[start:stop] = similar_from_rows(
                self.item_similarity(block), block, n
            )
        return found, scores

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, NDArray[Any]] = {}
        for key, value in self._state().items():
            if sp.issparse(value):
                csr = sp.csr_matrix(value)
                arrays[f"{key}.data"] = csr.data
                arrays[f"{key}.indices"] = csr.indices
                arrays[f"{key}.indptr"] = csr.indptr
                arrays[f"{key}.shape"] = np.asarray(csr.shape, dtype=np.int64)
            else:
                arrays[key] = np.asarray(value)
        np.savez(directory / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
        meta = {"model": self.name, "n_items": self.n_items, "params": self.params}
        (directory / PARAMS_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = json.loads((directory / PARAMS_FILE).read_text())
        if meta["model"] != cls.name:
            raise ValueError(f"{directory} holds a {meta['model']!r} model, not {cls.name!r}")
        model = cls(**meta["params"])
        model.n_items = int(meta["n_items"])
        state: dict[str, NDArray[Any] | sp.csr_matrix] = {}
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
            for key in stored.files:
                if key.endswith(".shape"):
                    base = key.removesuffix(".shape")
                    state[base] = sp.csr_matrix(
                        (
                            stored[f"{base}.data"],
                            stored[f"{base}.indices"],
                            stored[f"{base}.indptr"],
                        ),
                        shape=tuple(stored[key]),
                    )
                elif not key.endswith((".data", ".indices", ".indptr")):
                    state[key] = stored[key]
        model._restore(state)
        return model


def top_n(
    scores: NDArray[np.floating[Any]], n: int, excluded: sp.csr_matrix | None = None
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The n best columns of each row of `scores` (excluded cells and -inf never chosen)."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    rows, n_items = scores.shape
    if excluded is not None and excluded.nnz:
        coo = excluded.tocoo()
        scores[coo.row, coo.col] = -np.inf
    scores[np.isnan(scores)] = -np.inf
    items = np.full((rows, n), -1, dtype=np.int64)
    best = np.full((rows, n), -np.inf, dtype=np.float32)
    take = min(n, n_items)
    if take == 0 or rows == 0:
        return items, best
    if take < n_items:
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    else:
        part = np.broadcast_to(np.arange(n_items), (rows, n_items)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    # Ties go to the lower item index, so lists are deterministic.
    order = np.lexsort((part, -part_scores), axis=1)
    chosen = np.take_along_axis(part, order, axis=1)
    chosen_scores = np.take_along_axis(part_scores, order, axis=1)
    valid = np.isfinite(chosen_scores)
    items[:, :take] = np.where(valid, chosen, -1)
    best[:, :take] = np.where(valid, chosen_scores, -np.inf)
    return items, best


def similar_from_rows(
    rows: NDArray[np.floating[Any]] | sp.spmatrix, items: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Top-n of item-to-item score rows (one per entry of `items`), the item itself excluded."""
    dense = sp.csr_matrix(rows).toarray() if sp.issparse(rows) else np.asarray(rows)
    dense = np.array(dense, dtype=np.float32, copy=True)
    dense[np.arange(len(items)), items] = -np.inf
    found, scores = top_n(dense, n)
    # A zero score means "no evidence of similarity", not a similar item.
    empty = scores <= 0
    found[empty] = -1
    scores[empty] = -np.inf
    return found, scores


def cosine_rows(matrix: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _aligned_rows(seen: sp.csr_matrix | None, users: NDArray[np.int64]) -> sp.csr_matrix | None:
    if seen is None:
        return None
    seen = sp.csr_matrix(seen)
    if seen.shape[0] == len(users):
        return seen
    return seen[users]


def _rows_per_block(columns: int) -> int:
    return max(1, min(MAX_BLOCK_ROWS, BLOCK_CELLS // max(columns, 1)))


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(start + size, total)
