"""From events to one weight per (customer, product): the matrix every model learns from.

Per customer, product and kind of event, the latest event counts, scaled by how often it
happened (`1 + ln(count)`: the tenth view adds little) and by its age when a half-life is
set. The kinds then add up:

- purchase, wishlist, view: weight of the kind;
- add to cart: its weight while the customer added the product more often than removed
  it (a removal cancels the cart), nothing otherwise;
- rating and review: the rating weight times (stars - 2) / 3, so 5 stars give it all and
  1 or 2 stars nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

PURCHASE, ADD_TO_CART, REMOVE_FROM_CART, WISHLIST, VIEW, RATING = range(6)
KIND_CODES = {
    "purchase": PURCHASE,
    "add_to_cart": ADD_TO_CART,
    "remove_from_cart": REMOVE_FROM_CART,
    "wishlist": WISHLIST,
    "view": VIEW,
    "rating": RATING,
    "review": RATING,
}
_KINDS = 8
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Events:
    """Events as parallel arrays; users and items are dense indices."""

    users: NDArray[np.int64]
    items: NDArray[np.int64]
    kinds: NDArray[np.int8]
    ratings: NDArray[np.float32]
    times: NDArray[np.float64]
    n_users: int
    n_items: int

    @property
    def newest(self) -> float:
        return float(self.times.max()) if len(self.times) else 0.0


def decay(times: NDArray[np.float64], newest: float, half_life_days: float) -> NDArray[np.float64]:
    """1 for the newest event, halving every `half_life_days` before it (0 = no decay)."""
    if half_life_days <= 0:
        return np.ones(len(times))
    age_days = np.maximum(newest - times, 0.0) / SECONDS_PER_DAY
    return np.asarray(0.5 ** (age_days / half_life_days), dtype=np.float64)


def interaction_matrix(
    events: Events, weights: Mapping[str, float], half_life_days: float = 0.0
) -> sp.csr_matrix:
    """The float32 customer x product weight matrix; pairs whose weight is 0 are absent."""
    shape = (events.n_users, events.n_items)
    if len(events.users) == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    pair = events.users * events.n_items + events.items
    key = pair * _KINDS + events.kinds.astype(np.int64)
    order = np.lexsort((events.times, key))
    sorted_key = key[order]
    last = np.r_[sorted_key[1:] != sorted_key[:-1], True]
    ends = np.flatnonzero(last)
    counts = np.diff(np.r_[-1, ends]).astype(np.float64)
    group_key = sorted_key[last]
    group_time = events.times[order][last]
    group_rating = events.ratings[order][last].astype(np.float64)
    kind = group_key % _KINDS
    group_pair = group_key // _KINDS
    recency = decay(group_time, events.newest, half_life_days)

    value = np.zeros(len(group_key))
    for name, code in (("purchase", PURCHASE), ("wishlist", WISHLIST), ("view", VIEW)):
        chosen = kind == code
        value[chosen] = weights[name] * recency[chosen] * (1.0 + np.log(counts[chosen]))
    rated = kind == RATING
    stars = np.clip((np.nan_to_num(group_rating[rated]) - 2.0) / 3.0, 0.0, 1.0)
    value[rated] = weights["rating"] * stars * recency[rated]
    carts = np.flatnonzero(kind == ADD_TO_CART)
    if len(carts):
        removal_keys = group_pair[carts] * _KINDS + REMOVE_FROM_CART
        found = np.searchsorted(group_key, removal_keys)
        found = np.minimum(found, len(group_key) - 1)
        removals = np.where(group_key[found] == removal_keys, counts[found], 0.0)
        still_in_cart = counts[carts] > removals
        value[carts] = np.where(still_in_cart, weights["add_to_cart"] * recency[carts], 0.0)

    positive = value > 0
    rows = group_pair[positive] // events.n_items
    cols = group_pair[positive] % events.n_items
    matrix = sp.csr_matrix(
        (value[positive].astype(np.float32), (rows, cols)), shape=shape, dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def purchase_matrix(events: Events) -> sp.csr_matrix:
    """1 where the customer bought the product."""
    bought = events.kinds == PURCHASE
    matrix = sp.csr_matrix(
        (
            np.ones(int(bought.sum()), dtype=np.float32),
            (events.users[bought], events.items[bought]),
        ),
        shape=(events.n_users, events.n_items),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def item_age_days(events: Events) -> NDArray[np.float64]:
    """Days between each product's latest event and the newest event overall (inf: none)."""
    latest = np.full(events.n_items, -np.inf)
    np.maximum.at(latest, events.items, events.times)
    return np.asarray((events.newest - latest) / SECONDS_PER_DAY, dtype=np.float64)
