"""Event weights: the kinds rank as configured, a removal cancels a cart, time decays."""

from __future__ import annotations

import numpy as np
import pytest

from crm_recommend.settings import RecommendSettings
from crm_recommend.training.weights import (
    ADD_TO_CART,
    PURCHASE,
    RATING,
    REMOVE_FROM_CART,
    VIEW,
    WISHLIST,
    Events,
    interaction_matrix,
    item_age_days,
    purchase_matrix,
)

DAY = 86_400.0
WEIGHTS = RecommendSettings().event_weights()


def _events(*rows: tuple[int, int, int, float, float]) -> Events:
    users, items, kinds, ratings, times = zip(*rows, strict=True)
    return Events(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        kinds=np.asarray(kinds, dtype=np.int8),
        ratings=np.asarray(ratings, dtype=np.float32),
        times=np.asarray(times, dtype=np.float64),
        n_users=max(users) + 1,
        n_items=max(items) + 1,
    )


def test_purchase_outweighs_cart_outweighs_wishlist_outweighs_view() -> None:
    nan = float("nan")
    events = _events(
        (0, 0, PURCHASE, nan, 0.0),
        (0, 1, ADD_TO_CART, nan, 0.0),
        (0, 2, WISHLIST, nan, 0.0),
        (0, 3, VIEW, nan, 0.0),
    )
    row = interaction_matrix(events, WEIGHTS).toarray()[0]
    assert row[0] > row[1] > row[2] > row[3] > 0
    assert row[0] == pytest.approx(WEIGHTS["purchase"])


def test_weights_come_from_the_settings() -> None:
    nan = float("nan")
    events = _events((0, 0, VIEW, nan, 0.0), (0, 1, PURCHASE, nan, 0.0))
    row = interaction_matrix(events, {**WEIGHTS, "view": 50.0}).toarray()[0]
    assert row[0] > row[1]


def test_a_removal_cancels_the_cart_and_a_new_add_restores_it() -> None:
    nan = float("nan")
    cancelled = _events((0, 0, ADD_TO_CART, nan, 0.0), (0, 0, REMOVE_FROM_CART, nan, 1.0))
    assert interaction_matrix(cancelled, WEIGHTS).nnz == 0
    again = _events(
        (0, 0, ADD_TO_CART, nan, 0.0),
        (0, 0, REMOVE_FROM_CART, nan, 1.0),
        (0, 0, ADD_TO_CART, nan, 2.0),
    )
    assert interaction_matrix(again, WEIGHTS).toarray()[0, 0] == pytest.approx(
        WEIGHTS["add_to_cart"]
    )


def test_ratings_count_by_their_value_and_the_latest_wins() -> None:
    events = _events(
        (0, 0, RATING, 5.0, 0.0),
        (0, 1, RATING, 4.0, 0.0),
        (0, 2, RATING, 2.0, 0.0),
        (0, 3, RATING, 5.0, 0.0),
        (0, 3, RATING, 1.0, 1.0),
    )
    row = interaction_matrix(events, WEIGHTS).toarray()[0]
    assert row[0] == pytest.approx(WEIGHTS["rating"])
    assert row[1] == pytest.approx(WEIGHTS["rating"] * 2 / 3)
    assert row[2] == 0
    assert row[3] == 0


def test_repeats_count_less_than_linearly() -> None:
    nan = float("nan")
    events = _events(*[(0, 0, VIEW, nan, float(t)) for t in range(10)], (0, 1, VIEW, nan, 9.0))
    row = interaction_matrix(events, WEIGHTS).toarray()[0]
    assert row[1] < row[0] < 10 * row[1]


def test_half_life_halves_the_weight_of_older_events() -> None:
    nan = float("nan")
    events = _events((0, 0, PURCHASE, nan, 100 * DAY), (1, 0, PURCHASE, nan, 130 * DAY))
    decayed = interaction_matrix(events, WEIGHTS, half_life_days=30).toarray()
    assert decayed[1, 0] == pytest.approx(WEIGHTS["purchase"])
    assert decayed[0, 0] == pytest.approx(WEIGHTS["purchase"] / 2)
    flat = interaction_matrix(events, WEIGHTS, half_life_days=0).toarray()
    assert flat[0, 0] == flat[1, 0]


def test_purchases_and_item_ages() -> None:
    nan = float("nan")
    events = _events(
        (0, 0, PURCHASE, nan, 0.0), (0, 0, PURCHASE, nan, DAY), (1, 1, VIEW, nan, 3 * DAY)
    )
    assert purchase_matrix(events).toarray().tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert item_age_days(events).tolist() == [2.0, 0.0]
