"""A small shop with planted taste clusters, for model tests that must find them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from crm_recommend.models import TrainingData

CLUSTERS = 4
ITEMS_PER_CLUSTER = 15
USERS = 400
WORDS = ("garden hose rake", "kitchen knife pan", "running shoe sock", "camera lens tripod")


@dataclass(frozen=True)
class PlantedShop:
    """Customers each buy mostly in one cluster of products; a few products sell to all."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    user_cluster: np.ndarray
    item_cluster: np.ndarray
    item_text: list[str]

    def data(self) -> TrainingData:
        return TrainingData(user_items=self.train, item_text=self.item_text)


def planted_shop(seed: int = 5) -> PlantedShop:
    rng = np.random.default_rng(seed)
    n_items = CLUSTERS * ITEMS_PER_CLUSTER
    item_cluster = np.repeat(np.arange(CLUSTERS), ITEMS_PER_CLUSTER)
    user_cluster = rng.integers(0, CLUSTERS, size=USERS)
    # Inside a cluster some products sell more (Zipf-like), and cluster 0 is the biggest
    # seller overall, so plain popularity is a real but beatable baseline.
    within = 1.0 / np.arange(1, ITEMS_PER_CLUSTER + 1) ** 0.7
    train_rows, train_cols, test_rows, test_cols = [], [], [], []
    for user in range(USERS):
        cluster = user_cluster[user] if rng.random() < 0.85 else 0
        items = cluster * ITEMS_PER_CLUSTER + rng.choice(
            ITEMS_PER_CLUSTER, size=8, replace=False, p=within / within.sum()
        )
        noise = rng.choice(n_items, size=1)
        bought = np.unique(np.concatenate([items, noise]))
        rng.shuffle(bought)
        held_out, kept = bought[:2], bought[2:]
        train_rows += [user] * len(kept)
        train_cols += list(kept)
        test_rows += [user] * len(held_out)
        test_cols += list(held_out)
    shape = (USERS, n_items)
    train = sp.csr_matrix((np.ones(len(train_rows)), (train_rows, train_cols)), shape=shape)
    test = sp.csr_matrix((np.ones(len(test_rows)), (test_rows, test_cols)), shape=shape)
    text = [
        f"{WORDS[cluster]} model {item} {WORDS[cluster].split()[item % 3]}"
        for item, cluster in enumerate(item_cluster)
    ]
    return PlantedShop(
        train.astype(np.float32), test.astype(np.float32), user_cluster, item_cluster, text
    )


@pytest.fixture(scope="session")
def shop() -> PlantedShop:
    return planted_shop()
