"""A model version on disk: the fitted model (its own `save()`) beside the serving arrays.

```
<model_dir>/<version>/
    manifest.json        version, model, counts, the order-line position it saw
    model/               what the model's save() wrote (for re-scoring and inspection)
    customers.npy        customer id of each row ('U36'; erased customers blanked)
    products.npy         product id of each item column
    candidates.npy       (customers, C) int32 item indices, best first, -1 padded
    candidate_scores.npy (customers, C) float32
    candidate_reasons.npy (customers, C) int32: the customer's product most like each
                         candidate (-1: none); candidate_reasons_bought: was it bought
    similar.npy          (items, S) int32, similar_scores.npy float32
    popularity.npy       (items,) float32 time-decayed weight of each item
    history_*.npy        each customer's strongest items (CSR), `history_bought` per entry
    bought_*.npy         each customer's purchases (CSR)
```

Serving needs only the arrays: a request filters and slices them, it never scores.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MANIFEST = "manifest.json"
MODEL_DIR = "model"
ARRAYS = (
    "customers",
    "products",
    "candidates",
    "candidate_scores",
    "candidate_reasons",
    "candidate_reasons_bought",
    "similar",
    "similar_scores",
    "popularity",
    "history_indptr",
    "history_items",
    "history_bought",
    "bought_indptr",
    "bought_items",
)


@dataclass(frozen=True)
class ServingArrays:
    """What a trained model leaves for serving, in model indices."""

    customers: NDArray[np.str_]
    products: NDArray[np.str_]
    candidates: NDArray[np.int32]
    candidate_scores: NDArray[np.float32]
    candidate_reasons: NDArray[np.int32]
    candidate_reasons_bought: NDArray[np.bool_]
    similar: NDArray[np.int32]
    similar_scores: NDArray[np.float32]
    popularity: NDArray[np.float32]
    history_indptr: NDArray[np.int64]
    history_items: NDArray[np.int32]
    history_bought: NDArray[np.bool_]
    bought_indptr: NDArray[np.int64]
    bought_items: NDArray[np.int32]

    def write(self, directory: Path, manifest: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name), allow_pickle=False)
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


@dataclass(frozen=True)
class Artefact:
    """A version loaded in memory, with the id lookups a request needs."""

    version: int
    manifest: dict[str, Any]
    arrays: ServingArrays
    customer_rows: dict[str, int] = field(repr=False)
    product_items: dict[str, int] = field(repr=False)

    @property
    def watermark(self) -> int:
        """The last order-line feed position the model learned from."""
        return int(self.manifest.get("order_line_position", 0))


def load(directory: Path, version: int) -> Artefact:
    """Read a version fully into memory (no lazy mapping: a swap must not fault later)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    loaded = {name: np.load(directory / f"{name}.npy", allow_pickle=False) for name in ARRAYS}
    arrays = ServingArrays(**loaded)
    customer_rows = {
        customer: row for row, customer in enumerate(arrays.customers.tolist()) if customer
    }
    product_items = {product: item for item, product in enumerate(arrays.products.tolist())}
    return Artefact(version, manifest, arrays, customer_rows, product_items)


def version_directory(model_dir: Path, version: int) -> Path:
    return model_dir / f"{version:06d}"


def scrub_customers(model_dir: Path, customer_ids: Iterable[str]) -> int:
    """Blank forgotten customers in every stored version; returns the files rewritten."""
    forgotten = set(customer_ids)
    rewritten = 0
    if not forgotten or not model_dir.is_dir():
        return 0
    for path in sorted(model_dir.glob("*/customers.npy")):
        customers = np.load(path, allow_pickle=False)
        hit = np.isin(customers, np.array(sorted(forgotten), dtype=customers.dtype))
        if not hit.any():
            continue
        customers[hit] = ""
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, customers, allow_pickle=False)
        os.replace(temporary, path)
        rewritten += 1
    return rewritten


def remove_versions(model_dir: Path, keep: Iterable[int]) -> list[int]:
    """Delete the stored versions not in `keep`; returns those deleted."""
    kept = set(keep)
    removed: list[int] = []
    if not model_dir.is_dir():
        return removed
    for directory in model_dir.iterdir():
        if directory.is_dir() and directory.name.isdigit() and int(directory.name) not in kept:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(int(directory.name))
    return sorted(removed)
