"""The time split and the churn model: labels from the right days, AUC well above chance
where churners stop buying, better than the decision-tree baseline, skips small shops."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crm_analytics.scoring import churn, windows

from .conftest import AS_OF


def _lines(*orders: tuple[str, dt.date, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [customer for customer, _, _ in orders],
            "order_id": [f"o{number}" for number in range(len(orders))],
            "placed_at": [
                pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=12) for _, day, _ in orders
            ],
            "amount": [amount for _, _, amount in orders],
            "quantity": [1] * len(orders),
        }
    )


def _by_customer(window: windows.Window, values: Any) -> dict[str, Any]:
    assert values is not None
    return {str(key): value.item() for key, value in zip(window.summary.index, values, strict=True)}


def test_the_split_labels_each_window_by_the_following_days_only() -> None:
    h = dt.timedelta(days=30)
    lines = _lines(
        ("stays", AS_OF - 2 * h - dt.timedelta(days=5), 10.0),
        ("stays", AS_OF - h - dt.timedelta(days=3), 20.0),
        ("stays", AS_OF - dt.timedelta(days=1), 30.0),
        ("leaves", AS_OF - 2 * h - dt.timedelta(days=10), 50.0),
        ("late", AS_OF - h - dt.timedelta(days=1), 40.0),
        # on the cutoff day itself: part of the features, not of the outcome
        ("late", AS_OF - h, 5.0),
    )
    split = windows.time_split(lines, AS_OF, 30)

    training, validation = split.training, split.validation
    assert training.cutoff == AS_OF - 2 * h
    assert validation.cutoff == AS_OF - h
    assert _by_customer(training, training.churned) == {"leaves": True, "stays": False}
    assert _by_customer(training, training.next_spend) == {"leaves": 0.0, "stays": 20.0}
    assert _by_customer(validation, validation.churned) == {
        "late": True,
        "leaves": True,
        "stays": False,
    }
    assert _by_customer(validation, validation.next_spend) == {
        "late": 0.0,
        "leaves": 0.0,
        "stays": 30.0,
    }
    assert validation.summary.loc["late", "frequency"] == 2
    assert len(split.latest) == 3
    assert split.latest.churned is None


@pytest.fixture(scope="module")
def split(churning_shop: pd.DataFrame) -> windows.TimeSplit:
    return windows.time_split(churning_shop, AS_OF, 90)


def test_churners_who_stop_buying_are_found(split: windows.TimeSplit) -> None:
    result = churn.fit_churn(split, churn.ChurnParameters())

    assert result.report["skipped"] is None
    validation = result.report["validation"]
    assert validation["auc"] > 0.85
    assert validation["precision"] > 0.7
    assert validation["recall"] > 0.7
    assert validation["customers"] == len(split.validation)
    assert 0 < validation["churned"] < validation["customers"]
    assert result.probability is not None
    assert result.risk is not None
    assert len(result.probability) == len(split.latest)
    assert ((result.probability >= 0) & (result.probability <= 1)).all()

    # the banding follows the thresholds, and long-gone customers are the high risk ones
    high = result.risk == "high"
    assert (result.probability[high] >= 0.8).all()
    assert (result.probability[result.risk == "low"] < 0.5).all()
    recency = split.latest.summary["recency_days"].to_numpy()
    assert np.median(recency[high]) > 2 * np.median(recency[result.risk == "low"])
    assert sum(result.report["bands"].values()) == len(split.latest)


def test_gradient_boosting_is_at_least_as_good_as_the_tree_baseline(
    split: windows.TimeSplit,
) -> None:
    boosted = churn.fit_churn(split, churn.ChurnParameters())
    tree = churn.fit_churn(split, churn.ChurnParameters(model="decision_tree"))
    assert tree.report["model"] == "decision_tree"
    assert tree.report["validation"]["auc"] > 0.7
    assert boosted.report["validation"]["auc"] >= tree.report["validation"]["auc"] - 0.02


def test_a_small_shop_is_skipped_with_the_reason(churning_shop: pd.DataFrame) -> None:
    few = churning_shop[churning_shop["customer_id"] < "c00030"]
    result = churn.fit_churn(windows.time_split(few, AS_OF, 90), churn.ChurnParameters())
    assert result.probability is None
    assert result.risk is None
    assert "fewer than 50" in result.report["skipped"]


def test_a_window_with_one_class_only_is_skipped() -> None:
    # everyone buys every week: nobody churns in any window
    orders = [
        (f"c{customer}", AS_OF - dt.timedelta(days=7 * week), 10.0)
        for customer in range(60)
        for week in range(60)
    ]
    result = churn.fit_churn(
        windows.time_split(_lines(*orders), AS_OF, 30), churn.ChurnParameters()
    )
    assert result.probability is None
    assert "0 churners" in result.report["skipped"]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="threshold"):
        churn.ChurnParameters(medium_threshold=0.8, high_threshold=0.5)
