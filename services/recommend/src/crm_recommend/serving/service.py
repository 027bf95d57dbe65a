"""Lists for the storefront, built from the serving state by filtering and slicing arrays.

Nothing here scores a model or touches the database: a personal list is the customer's
precomputed candidates minus what cannot be shown, topped up with popular products.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from crm_recommend.serving.state import ServingState
from crm_shared.schemas.catalogue import normalize_category_path

Item = dict[str, Any]
_PICKED: tuple[str, str | None] = ("picked for you", None)
_NONE = np.zeros(0, dtype=np.int32)
_NO_SCORES = np.zeros(0, dtype=np.float32)
# How much the n-th most recent view of a session counts relative to the one after it.
SESSION_RECENCY = 0.8


@dataclass(frozen=True)
class Filters:
    limit: int
    offset: int = 0
    category: str | None = None
    exclude: Sequence[uuid.UUID] = ()
    exclude_bought: bool = True


def canonical_customer(customer_id: str) -> str | None:
    try:
        return str(uuid.UUID(customer_id))
    except ValueError:
        return None


def canonical_category(category: str | None) -> str | None:
    if category is None:
        return None
    try:
        return normalize_category_path(category)
    except ValueError:
        return "\x00unknown"


def _excluded(state: ServingState, exclude: Sequence[uuid.UUID]) -> NDArray[np.int32]:
    index = state.catalogue.index
    found = [index.get(str(product), -1) for product in exclude]
    return np.asarray([position for position in found if position >= 0], dtype=np.int32)


def _page(
    state: ServingState,
    filters: Filters,
    chosen: NDArray[np.int32],
    scores: NDArray[np.float32],
    reasons: list[tuple[str, str | None]],
    source: str,
    blocked: NDArray[np.int32],
    fallback_category: str | None = None,
) -> tuple[list[Item], bool]:
    """The page of `chosen` (catalogue indices, best first) topped up with popular items;
    and whether popular items had to stand in for all of it."""
    wanted = filters.offset + filters.limit
    catalogue = state.catalogue
    product_ids, skus, names = catalogue.product_ids, catalogue.skus, catalogue.names
    count = len(chosen)
    page = slice(filters.offset, min(count, wanted))
    items: list[Item] = [
        {
            "product_id": product_ids[product],
            "sku": skus[product],
            "name": names[product],
            "score": score,
            "source": source,
            "reason": reason,
            "because_of": because,
        }
        for product, score, (reason, because) in zip(
            chosen[page].tolist(), scores[page].tolist(), reasons[page], strict=True
        )
    ]
    if count >= wanted:
        return items, False
    popular = state.popular(fallback_category or filters.category)
    taken = np.concatenate([chosen, blocked]) if len(blocked) else chosen
    if len(taken):
        head = popular[: wanted + len(taken)]
        popular = head[~np.isin(head, taken)]
    start = max(filters.offset - count, 0)
    for product in popular[start : wanted - count].tolist():
        category = catalogue.categories[product]
        items.append(
            {
                "product_id": product_ids[product],
                "sku": skus[product],
                "name": names[product],
                "score": float(state.popular_scores[product]),
                "source": "popular",
                "reason": f"popular in {category}" if category else "popular right now",
                "because_of": None,
            }
        )
    return items, count == 0


def _shown(
    state: ServingState, items: NDArray[np.int32], category: str | None
) -> NDArray[np.bool_]:
    """Which model items (-1 padded) may be shown: known, active, in stock, in the category."""
    keep = state.item_available[items]
    if category is not None:
        members = state.catalogue.category_members.get(category)
        if members is None:
            return np.zeros(len(items), dtype=bool)
        keep &= members[state.item_catalogue[items]]
    return keep


def _bought(state: ServingState, row: int) -> NDArray[np.int32]:
    arrays = state.artefact.arrays if state.artefact is not None else None
    if arrays is None:
        return _NONE
    bought = arrays.bought_items[arrays.bought_indptr[row] : arrays.bought_indptr[row + 1]]
    recent = state.bought_since.get(row)
    return bought if recent is None else np.concatenate([bought, recent])


def personal(state: ServingState, customer_id: str, filters: Filters) -> dict[str, Any]:
    """A customer's list: candidates, filtered, explained, topped up with popular items."""
    artefact = state.artefact
    row = None
    if artefact is not None:
        # Ids are stored canonical (lower case, hyphens): parse only what does not match.
        customer: str | None = customer_id
        row = artefact.customer_rows.get(customer_id)
        if row is None:
            customer = canonical_customer(customer_id)
            row = artefact.customer_rows.get(customer) if customer is not None else None
        if customer in state.forgotten:
            row = None
    blocked = _excluded(state, filters.exclude)
    wanted = filters.offset + filters.limit
    if artefact is None or row is None:
        items, fell_back = _page(state, filters, _NONE, _NO_SCORES, [], "personal", blocked)
        return {"model_version": state.version, "fallback": fell_back, "items": items}
    candidates = artefact.arrays.candidates[row]
    keep = _shown(state, candidates, filters.category)
    # Purchases known at training are not among the candidates; later ones may be.
    bought = _NONE
    if filters.exclude_bought:
        bought = state.bought_since.get(row, _NONE)
        if not artefact.manifest.get("bought_excluded", False):
            bought = _bought(state, row)
        if len(bought):
            keep &= ~np.isin(candidates, bought)
    picked = np.flatnonzero(keep)[: wanted + len(blocked)]
    chosen = state.item_catalogue[candidates[picked]]
    if len(blocked):
        allowed = ~np.isin(chosen, blocked)
        picked, chosen = picked[allowed], chosen[allowed]
    picked, chosen = picked[:wanted], chosen[:wanted]
    scores = artefact.arrays.candidate_scores[row][picked]
    shown = picked[filters.offset :]
    reasons = [_PICKED] * (len(picked) - len(shown)) + _personal_reasons(state, row, shown)
    if len(chosen) < wanted and filters.exclude_bought:
        # Popular products stand in for the rest: never one the customer bought either.
        blocked = np.concatenate([blocked, _catalogue_of(state, _bought(state, row))])
    items, fell_back = _page(state, filters, chosen, scores, reasons, "personal", blocked)
    return {"model_version": state.version, "fallback": fell_back, "items": items}


def _catalogue_of(state: ServingState, items: NDArray[np.int32]) -> NDArray[np.int32]:
    found = state.item_catalogue[items]
    return found[found >= 0]


def _personal_reasons(
    state: ServingState, row: int, picked: NDArray[np.intp]
) -> list[tuple[str, str | None]]:
    """For each chosen candidate, the product of the customer's history most like it
    (precomputed with the model)."""
    if state.artefact is None:
        return [_PICKED] * len(picked)
    arrays = state.artefact.arrays
    # -1 (no reason) maps to the padding entry, -1 again.
    sources = state.item_catalogue[arrays.candidate_reasons[row][picked]].tolist()
    bought = arrays.candidate_reasons_bought[row][picked].tolist()
    names, product_ids = state.catalogue.names, state.catalogue.product_ids
    return [
        (
            f"because you {'bought' if was_bought else 'looked at'} {names[source]}",
            product_ids[source],
        )
        if source >= 0
        else _PICKED
        for source, was_bought in zip(sources, bought, strict=True)
    ]


def similar(state: ServingState, product_id: uuid.UUID, filters: Filters) -> dict[str, Any]:
    """Products like one product; popular products of its category when none are known."""
    position = state.catalogue.index.get(str(product_id))
    category = None if position is None else state.catalogue.categories[position]
    return _similar_to(state, [product_id], filters, "similar to", category)


def session(
    state: ServingState, product_ids: Sequence[uuid.UUID], filters: Filters
) -> dict[str, Any]:
    """Products like a visitor's recent views (the latest count most), or popular ones."""
    return _similar_to(state, product_ids, filters, "because you viewed", None)


def _similar_to(
    state: ServingState,
    product_ids: Sequence[uuid.UUID],
    filters: Filters,
    verb: str,
    fallback_category: str | None,
) -> dict[str, Any]:
    artefact = state.artefact
    seen = _excluded(state, product_ids)
    blocked = np.concatenate([_excluded(state, filters.exclude), seen])
    chosen, scores = _NONE, np.zeros(0, dtype=np.float32)
    reasons: list[tuple[str, str | None]] = []
    sources = (
        [artefact.product_items.get(str(product), -1) for product in product_ids]
        if artefact is not None
        else []
    )
    sources = [item for item in sources if item >= 0]
    if artefact is not None and sources:
        source_items = np.asarray(sources, dtype=np.int32)
        recency = SESSION_RECENCY ** np.arange(len(sources) - 1, -1, -1, dtype=np.float32)
        neighbours = artefact.arrays.similar[source_items]
        strength = artefact.arrays.similar_scores[source_items] * recency[:, None]
        origin = np.repeat(source_items, neighbours.shape[1])
        flat, weight = neighbours.ravel(), strength.ravel()
        usable = (flat >= 0) & np.isfinite(weight) & ~np.isin(flat, source_items)
        usable &= _shown(state, flat, filters.category)
        flat, weight, origin = flat[usable], weight[usable], origin[usable]
        if len(flat):
            unique, inverse = np.unique(flat, return_inverse=True)
            total = np.bincount(inverse, weights=weight).astype(np.float32)
            # The source that contributed most explains the item.
            order = np.lexsort((-weight, inverse))
            first = np.r_[True, inverse[order][1:] != inverse[order][:-1]]
            explained_by = origin[order][first]
            ranking = np.argsort(-total, kind="stable")
            ranked_items = unique[ranking]
            chosen = state.item_catalogue[ranked_items]
            scores = total[ranking]
            because = state.item_catalogue[explained_by[ranking]]
            if len(blocked):
                allowed = ~np.isin(chosen, blocked)
                chosen, scores, because = chosen[allowed], scores[allowed], because[allowed]
            limit = filters.offset + filters.limit
            chosen, scores, because = chosen[:limit], scores[:limit], because[:limit]
            catalogue = state.catalogue
            reasons = [
                (f"{verb} {catalogue.names[source]}", catalogue.product_ids[source])
                if source >= 0
                else ("picked for you", None)
                for source in because.tolist()
            ]
    items, fell_back = _page(
        state, filters, chosen, scores, reasons, "similar", blocked, fallback_category
    )
    return {"model_version": state.version, "fallback": fell_back, "items": items}


def popular(state: ServingState, filters: Filters) -> dict[str, Any]:
    blocked = _excluded(state, filters.exclude)
    items, _ = _page(state, filters, _NONE, np.zeros(0, np.float32), [], "popular", blocked)
    return {"model_version": state.version, "fallback": False, "items": items}
