"""Public data sets the offline evaluation reads from CRM_DATA_DIR (never downloaded)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from crm_recommend.evaluation.offline import Interactions

DATA_DIR_VARIABLE = "CRM_DATA_DIR"
DATASETS = ("movielens-100k",)


def data_dir() -> Path:
    value = os.environ.get(DATA_DIR_VARIABLE)
    if not value:
        raise SystemExit(
            f"Set {DATA_DIR_VARIABLE} to the folder holding the public data sets "
            "(e.g. movielens-100k/u.data); nothing is downloaded."
        )
    return Path(value)


def movielens_100k(directory: Path | None = None, *, weight: str = "binary") -> Interactions:
    """MovieLens 100k ratings, every rating a positive interaction.

    `weight`: "binary" (1 per rating) or "rating" (the 1-5 stars). Users and movies are
    numbered by their sorted ids; rows keep the file's order, which the seeded split
    depends on."""
    path = (directory or data_dir()) / "movielens-100k" / "u.data"
    if not path.exists():
        raise SystemExit(f"{path} is missing: MovieLens 100k's u.data is expected there")
    ratings = pd.read_csv(
        path, sep="\t", header=None, names=["user", "item", "rating", "timestamp"]
    )
    user_ids, users = np.unique(ratings["user"].to_numpy(), return_inverse=True)
    item_ids, items = np.unique(ratings["item"].to_numpy(), return_inverse=True)
    if weight == "binary":
        weights = np.ones(len(ratings), dtype=np.float32)
    elif weight == "rating":
        weights = ratings["rating"].to_numpy(dtype=np.float32)
    else:
        raise ValueError(f"weight must be 'binary' or 'rating', not {weight!r}")
    return Interactions(
        users.astype(np.int64), items.astype(np.int64), weights, len(user_ids), len(item_ids)
    )


def load(name: str, directory: Path | None = None, *, weight: str = "binary") -> Interactions:
    if name == "movielens-100k":
        return movielens_100k(directory, weight=weight)
    raise SystemExit(f"unknown data set {name!r}; choose from {DATASETS}")
