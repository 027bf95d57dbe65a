"""Ranking metrics against values worked out by hand from their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from crm_recommend.evaluation import (
    catalogue_coverage,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

# User 0 holds out items {1, 4, 7}; user 1 holds out {2}; user 2 holds out nothing.
RELEVANT = sp.csr_matrix(
    (np.ones(4), ([0, 0, 0, 1], [1, 4, 7, 2])), shape=(3, 10), dtype=np.float32
)
# User 0: hits at ranks 1 and 3. User 1: a hit at rank 2, then an empty slot.
RECOMMENDED = np.array([[1, 0, 4, 5], [3, 2, 6, -1], [0, 1, 2, 3]], dtype=np.int64)


def test_precision_counts_hits_over_k_for_users_with_held_out_items() -> None:
    expected = (2 / 4 + 1 / 4) / 2
    assert precision_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx(expected)


def test_recall_divides_hits_by_each_users_held_out_items() -> None:
    expected = (2 / 3 + 1 / 1) / 2
    assert recall_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx(expected)


def test_ndcg_uses_binary_gains_and_an_ideal_list_of_min_k_relevant() -> None:
    user0 = (1 / math.log2(2) + 1 / math.log2(4)) / (
        1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    )
    user1 = (1 / math.log2(3)) / (1 / math.log2(2))
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx((user0 + user1) / 2)


def test_map_divides_summed_precision_at_hits_by_held_out_count() -> None:
    user0 = (1 / 1 + 2 / 3) / 3
    user1 = (1 / 2) / 1
    assert map_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx((user0 + user1) / 2)


def test_cutting_at_k_ignores_later_ranks() -> None:
    # At k=2 user 0 has one hit (rank 1) and an ideal list of two.
    user0 = 1.0 / (1 + 1 / math.log2(3))
    user1 = (1 / math.log2(3)) / 1
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx((user0 + user1) / 2)
    assert precision_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert map_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_coverage_is_distinct_recommended_items_over_the_catalogue() -> None:
    assert catalogue_coverage(RECOMMENDED, 10, 4) == pytest.approx(7 / 10)
    assert catalogue_coverage(RECOMMENDED, 10, 1) == pytest.approx(3 / 10)


def test_all_metrics_at_once_agree_with_the_single_functions() -> None:
    metrics = ranking_metrics(RECOMMENDED, RELEVANT, 4)
    assert metrics.users == 2
    assert metrics.precision == pytest.approx(precision_at_k(RECOMMENDED, RELEVANT, 4))
    assert metrics.recall == pytest.approx(recall_at_k(RECOMMENDED, RELEVANT, 4))
    assert metrics.ndcg == pytest.approx(ndcg_at_k(RECOMMENDED, RELEVANT, 4))
    assert metrics.map == pytest.approx(map_at_k(RECOMMENDED, RELEVANT, 4))


def test_perfect_lists_score_one() -> None:
    perfect = np.array([[1, 4, 7, 0], [2, 0, 1, 3], [0, 1, 2, 3]], dtype=np.int64)
    metrics = ranking_metrics(perfect, RELEVANT, 4)
    assert metrics.recall == pytest.approx(1.0)
    assert metrics.ndcg == pytest.approx(1.0)
    assert metrics.map == pytest.approx(1.0)
