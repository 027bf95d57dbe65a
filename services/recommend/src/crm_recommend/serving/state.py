"""What serving holds in memory, as one immutable object swapped by one assignment.

`ServingState` joins the loaded artefact (model indices) with the catalogue copy (which
products are active and in stock, their names and categories). It is rebuilt off the
request path — after a sync, after a training run, on activation — and replaces
`app.state.serving` in a single assignment, so a request that took the old one finishes
with it and the next takes the new one: no request ever sees half of a swap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from numpy.typing import NDArray

from crm_recommend import artefact as artefacts
from crm_recommend.artefact import Artefact
from crm_recommend.settings import RecommendSettings
from crm_recommend.sync import repository
from crm_shared.db import Database

log = logging.getLogger("crm.recommend.serving")

# Weights of the popularity used before any model exists (a plain count per kind).
_COLD_WEIGHTS = {
    "purchase": 10.0,
    "add_to_cart": 4.0,
    "wishlist": 3.0,
    "rating": 3.0,
    "review": 3.0,
    "view": 1.0,
}
_POPULAR_CACHE = 2000


@dataclass(frozen=True)
class Catalogue:
    """The catalogue copy, in catalogue indices (sorted by product id)."""

    product_ids: list[str]
    index: dict[str, int]
    skus: list[str]
    names: list[str]
    categories: list[str | None]
    available: NDArray[np.bool_]
    category_members: dict[str, NDArray[np.bool_]]
    popularity: NDArray[np.float32]

    @classmethod
    def empty(cls) -> Catalogue:
        return cls([], {}, [], [], [], np.zeros(0, bool), {}, np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.product_ids)


@dataclass(frozen=True)
class ServingState:
    catalogue: Catalogue
    artefact: Artefact | None
    forgotten: frozenset[str]
    # Per artefact item: its catalogue index (-1 if the product is unknown) and whether it
    # may be shown now. Both end with one extra entry (-1, False) so that an item index of
    # -1 (padding) can index them directly.
    item_catalogue: NDArray[np.int32]
    item_available: NDArray[np.bool_]
    # Purchases since the model was trained: customer row -> model items.
    bought_since: dict[int, NDArray[np.int32]]
    # Available catalogue indices, most popular first.
    popular_order: NDArray[np.int32]
    popular_scores: NDArray[np.float32]
    _popular_by_category: dict[str | None, NDArray[np.int32]] = field(
        default_factory=dict, repr=False
    )

    @property
    def version(self) -> int | None:
        return None if self.artefact is None else self.artefact.version

    def popular(self, category: str | None) -> NDArray[np.int32]:
        """Available catalogue indices of the category (None: all), most popular first."""
        cached = self._popular_by_category.get(category)
        if cached is not None:
            return cached
        if category is None:
            return self.popular_order
        members = self.catalogue.category_members.get(category)
        if members is None:
            found = np.zeros(0, dtype=np.int32)
        else:
            found = self.popular_order[members[self.popular_order]]
        if len(self._popular_by_category) < _POPULAR_CACHE:
            self._popular_by_category[category] = found
        return found


def empty_state() -> ServingState:
    return compose(Catalogue.empty(), None, frozenset(), [])


def compose(
    catalogue: Catalogue,
    artefact: Artefact | None,
    forgotten: frozenset[str],
    purchases_since: list[tuple[str, str]],
) -> ServingState:
    """Align the artefact's items with the catalogue; pure, so it can run in a thread."""
    if artefact is None:
        item_catalogue = np.zeros(0, dtype=np.int32)
        item_available = np.zeros(0, dtype=bool)
        bought_since: dict[int, NDArray[np.int32]] = {}
        popularity = catalogue.popularity
    else:
        products = artefact.arrays.products.tolist()
        item_catalogue = np.fromiter(
            (catalogue.index.get(product, -1) for product in products),
            dtype=np.int32,
            count=len(products),
        )
        known = item_catalogue >= 0
        item_available = known & catalogue.available[np.where(known, item_catalogue, 0)]
        if not len(catalogue):
            item_available = np.zeros(len(products), dtype=bool)
        grouped: dict[int, list[int]] = defaultdict(list)
        for customer, product in purchases_since:
            row = artefact.customer_rows.get(customer)
            item = artefact.product_items.get(product)
            if row is not None and item is not None:
                grouped[row].append(item)
        bought_since = {row: np.asarray(items, dtype=np.int32) for row, items in grouped.items()}
        # The model's time-decayed popularity, for products it knows; cold counts after.
        popularity = catalogue.popularity.copy()
        if len(catalogue):
            learned = artefact.arrays.popularity[known]
            scale = float(popularity.max(initial=0.0)) + 1.0
            popularity[item_catalogue[known]] = learned + scale
    item_catalogue = np.append(item_catalogue, np.int32(-1)).astype(np.int32)
    item_available = np.append(item_available, False)
    order = np.argsort(-popularity, kind="stable").astype(np.int32)
    popular_order = order[catalogue.available[order]] if len(catalogue) else order
    return ServingState(
        catalogue=catalogue,
        artefact=artefact,
        forgotten=forgotten,
        item_catalogue=item_catalogue,
        item_available=item_available,
        bought_since=bought_since,
        popular_order=popular_order,
        popular_scores=popularity.astype(np.float32),
    )


def category_prefixes(path: str | None) -> list[str]:
    """`home/kitchen/cups` -> `home`, `home/kitchen`, `home/kitchen/cups`."""
    if not path:
        return []
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


async def read_catalogue(database: Database) -> Catalogue:
    async with database.engine.connect() as db:
        rows = await repository.catalogue_rows(db)
        counts = await repository.product_counts(db)
    product_ids = [str(row.id) for row in rows]
    index = {product: position for position, product in enumerate(product_ids)}
    available = np.fromiter(
        (bool(row.active and row.in_stock) for row in rows), dtype=bool, count=len(rows)
    )
    members: dict[str, list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        for prefix in category_prefixes(row.category_path):
            members[prefix].append(position)
    category_members = {}
    for prefix, positions in members.items():
        mask = np.zeros(len(rows), dtype=bool)
        mask[positions] = True
        category_members[prefix] = mask
    popularity = np.zeros(len(rows), dtype=np.float32)
    for (product_id, kind), count in counts.items():
        found = index.get(str(product_id))
        if found is not None:
            popularity[found] += _COLD_WEIGHTS.get(kind, 0.0) * count
    return Catalogue(
        product_ids=product_ids,
        index=index,
        skus=[row.sku for row in rows],
        names=[row.name for row in rows],
        categories=[row.category_path for row in rows],
        available=available,
        category_members=category_members,
        popularity=popularity,
    )


async def _purchases_since(database: Database, artefact: Artefact | None) -> list[tuple[str, str]]:
    if artefact is None:
        return []
    async with database.engine.connect() as db:
        rows = await repository.purchases_after(db, artefact.watermark)
    return [(str(row.customer_id), str(row.product_id)) for row in rows]


async def _forgotten(database: Database) -> frozenset[str]:
    async with database.engine.connect() as db:
        return frozenset(await repository.forgotten_ids(db))


def current(app: FastAPI) -> ServingState:
    state: ServingState = app.state.serving
    return state


async def refresh(app: FastAPI) -> ServingState:
    """Re-read the catalogue copy, recent purchases and forgotten customers; swap them in."""
    async with app.state.serving_lock:
        database: Database = app.state.database
        artefact = current(app).artefact
        catalogue = await read_catalogue(database)
        purchases = await _purchases_since(database, artefact)
        forgotten = await _forgotten(database)
        state = await asyncio.to_thread(compose, catalogue, artefact, forgotten, purchases)
        app.state.serving = state
        return state


async def swap(app: FastAPI, version: int, directory: Path) -> ServingState:
    """Load a version fully, then replace the serving state in one assignment."""
    loaded = await asyncio.to_thread(artefacts.load, directory, version)
    async with app.state.serving_lock:
        database: Database = app.state.database
        old = current(app)
        purchases = await _purchases_since(database, loaded)
        forgotten = await _forgotten(database)
        state = await asyncio.to_thread(compose, old.catalogue, loaded, forgotten, purchases)
        app.state.serving = state
    log.info("model version serving", extra={"version": version})
    return state


def model_dir(app: FastAPI) -> Path:
    settings: RecommendSettings = app.state.settings
    return settings.resolved_model_dir()
