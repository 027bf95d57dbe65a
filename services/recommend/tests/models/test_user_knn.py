"""User-based Pearson KNN on a case small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from crm_recommend.models import TrainingData, UserKNN

# Four customers, five products.
HISTORY = np.array(
    [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 0, 1, 1, 0],
        [0, 0, 0, 1, 1],
    ],
    dtype=np.float32,
)


def _fitted(neighbours: int) -> UserKNN:
    return UserKNN(neighbours=neighbours).fit(TrainingData(user_items=sp.csr_matrix(HISTORY)))


def test_pearson_correlation_over_the_catalogue() -> None:
    # Customer 0 centred: (.6 .6 -.4 -.4 -.4), customer 1: (.4 .4 .4 -.6 -.6);
    # dot .8, both squared norms 1.2: correlation 2/3.
    correlation = _fitted(2).correlations(np.array([0, 1], dtype=np.int64))
    assert correlation[0, 1] == pytest.approx(2 / 3)
    assert correlation[1, 2] == pytest.approx(1 / 6)
    assert correlation[0, 3] == pytest.approx(-2 / 3)
    assert correlation[0, 0] == pytest.approx(1.0)


def test_scores_weight_positive_neighbours_by_correlation() -> None:
    # Customer 1's two nearest: customer 0 (2/3) and customer 2 (1/6). Product 3 is liked
    # only by customer 2: (1/6) / (2/3 + 1/6) = 0.2. No neighbour bought product 4, so it
    # is no recommendation at all.
    items, scores = _fitted(2).recommend(np.array([1]), 2, seen=sp.csr_matrix(HISTORY[[1]]))
    assert items[0].tolist() == [3, -1]
    assert scores[0, 0] == pytest.approx(0.2)
    assert np.isneginf(scores[0, 1])


def test_k_limits_the_neighbourhood() -> None:
    # With one neighbour customer 1 listens to customer 0 alone, who never bought product 3.
    scores = _fitted(1).score(np.array([1], dtype=np.int64))
    assert scores[0, 3] == pytest.approx(0.0)
    assert scores[0, 0] == pytest.approx(1.0)


def test_negatively_correlated_customers_are_ignored() -> None:
    # Customer 0's only positive neighbour is customer 1; customer 3 (-2/3) is no guide.
    scores = _fitted(3).score(np.array([0], dtype=np.int64))
    assert scores[0].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.0, 0.0])
