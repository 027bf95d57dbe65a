"""Value score, simple value ranking, value tiers and lifecycle thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from crm_analytics.scoring import value


def test_tiers_split_at_the_clv_quantiles() -> None:
    clv = np.arange(1.0, 11.0)  # median 5.5, 80th percentile 8.2
    tiers = value.value_tiers(clv, (0.5, 0.8))
    assert list(tiers) == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2


def test_a_clv_equal_to_a_quantile_is_in_the_upper_tier() -> None:
    clv = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # q(0.5) = 2, q(0.75) = 3
    assert list(value.value_tiers(clv, (0.5, 0.75))) == ["low", "low", "medium", "high", "high"]


def test_tier_quantiles_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="q1"):
        value.value_tiers(np.arange(3.0), (0.8, 0.5))


@pytest.mark.parametrize(
    ("recency", "tenure", "stage"),
    [
        (0, 0, "new"),
        (10, 90, "new"),
        (91, 91, "active"),
        (180, 400, "active"),
        (181, 400, "at_risk"),
        (365, 400, "at_risk"),
        (366, 400, "churned"),
        (2000, 2000, "churned"),
    ],
)
def test_lifecycle_thresholds(recency: int, tenure: int, stage: str) -> None:
    stages = value.lifecycle_stages(
        np.array([recency]), np.array([tenure]), active_days=90, at_risk_days=180, churned_days=365
    )
    assert stages[0] == stage


def test_lifecycle_thresholds_follow_the_parameters() -> None:
    stages = value.lifecycle_stages(
        np.array([20, 20, 40, 70]),
        np.array([5, 100, 100, 100]),
        active_days=10,
        at_risk_days=30,
        churned_days=60,
    )
    assert list(stages) == ["new", "active", "at_risk", "churned"]


def test_value_score_weights_percentile_ranks() -> None:
    quantity = np.array([1, 2, 3, 4])
    monetary = np.array([400.0, 300.0, 200.0, 10_000.0])
    loyalty = np.array([1, 1, 1, 1])
    scores = value.value_scores(quantity, monetary, loyalty, (0.3, 0.5, 0.2))
    ranks = np.array([0.125, 0.375, 0.625, 0.875])
    expected = 0.3 * ranks + 0.5 * ranks[[2, 1, 0, 3]] + 0.2 * 0.5
    assert scores == pytest.approx(expected)
    # Only value counts: the ranking is the revenue ranking, the whale no further ahead
    # of the second than the second of the third.
    only_value = value.value_scores(quantity, monetary, loyalty, (0.0, 1.0, 0.0))
    assert np.argsort(only_value).tolist() == [2, 1, 0, 3]
    assert only_value[3] - only_value[0] == pytest.approx(only_value[0] - only_value[1])


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="weights"):
        value.value_scores(np.ones(2), np.ones(2), np.ones(2), (1.0, -0.5, 0.5))


def test_simple_value_is_revenue_times_orders_and_ranks_ties_together() -> None:
    simple = value.simple_values(np.array([100.0, 50.0, 200.0, 25.0]), np.array([2, 4, 1, 1]))
    assert simple.tolist() == [200.0, 200.0, 200.0, 25.0]
    assert value.descending_ranks(np.array([5.0, 9.0, 5.0, 1.0])).tolist() == [2, 1, 2, 4]
