"""The stratified split: a fixed share of every item's interactions, the same every time."""

from __future__ import annotations

import numpy as np

from crm_recommend.evaluation import stratified_split


def _interactions(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 40, size=2_000)
    users = rng.integers(0, 300, size=2_000)
    return users.astype(np.int64), items.astype(np.int64)


def test_each_item_keeps_its_share_in_training() -> None:
    users, items = _interactions()
    in_train = stratified_split(users, items, 0.75, seed=42, by="item")
    for item in np.unique(items):
        mine = items == item
        # rank / size <= 0.75 keeps floor(0.75 x size) of the item's interactions.
        assert in_train[mine].sum() == int(np.floor(0.75 * mine.sum() + 1e-9))


def test_split_by_user_stratifies_users() -> None:
    users, items = _interactions()
    in_train = stratified_split(users, items, 0.5, seed=1, by="user")
    for user in np.unique(users)[:50]:
        mine = users == user
        assert in_train[mine].sum() == int(np.floor(0.5 * mine.sum() + 1e-9))


def test_same_seed_same_split_other_seed_other_split() -> None:
    users, items = _interactions()
    first = stratified_split(users, items, seed=42)
    assert np.array_equal(first, stratified_split(users, items, seed=42))
    assert not np.array_equal(first, stratified_split(users, items, seed=7))


def test_draws_follow_numpys_legacy_generator_like_recommenders() -> None:
    # Two items with four interactions each: the three lowest draws of each go to training.
    items = np.array([0, 1, 0, 1, 0, 1, 0, 1], dtype=np.int64)
    users = np.arange(8, dtype=np.int64)
    draws = np.random.RandomState(42).rand(8)
    in_train = stratified_split(users, items, 0.75, seed=42)
    for item in (0, 1):
        rows = np.flatnonzero(items == item)
        held_out = rows[np.argmax(draws[rows])]
        assert not in_train[held_out]
        assert in_train[rows[rows != held_out]].all()
