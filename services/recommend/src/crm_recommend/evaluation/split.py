"""Train/test splits of interaction lists, reproducible from a seed."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def stratified_split(
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    ratio: float = 0.75,
    *,
    seed: int = 42,
    by: str = "item",
) -> NDArray[np.bool_]:
    """True for the interactions that go to training: `ratio` of each item's (or user's).

    Same semantics as Microsoft Recommenders' `python_stratified_split(filter_by=...)`:
    every interaction draws a uniform number from numpy's legacy generator seeded with
    `seed`; within each group, interactions ordered by that draw whose rank / group
    size is at most `ratio` go to training, the rest to the test split. A group of one
    therefore lands in the test split."""
    if by not in {"item", "user"}:
        raise ValueError(f"by must be 'item' or 'user', not {by!r}")
    groups = np.asarray(items if by == "item" else users, dtype=np.int64)
    draws = np.random.RandomState(seed).rand(len(groups))
    order = np.lexsort((draws, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    rank = np.arange(len(groups)) - np.repeat(starts, sizes) + 1
    in_train = np.empty(len(groups), dtype=bool)
    in_train[order] = rank / np.repeat(sizes, sizes) <= ratio
    return in_train
