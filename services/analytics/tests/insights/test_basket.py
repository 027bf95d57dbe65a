"""Basket rules on planted data: hand-checked measures and a planted pair found first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.insights.basket import BasketParameters, basket_rules


def _lines(orders: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"order_id": f"o{number}", "product_id": product}
            for number, products in enumerate(orders)
            for product in products
        ]
    )


def _rule(rules: pd.DataFrame, antecedent: str, consequent: str) -> pd.Series:
    found = rules[(rules["antecedent_id"] == antecedent) & (rules["consequent_id"] == consequent)]
    assert len(found) == 1, rules
    return found.iloc[0]


def test_support_confidence_and_lift_match_a_hand_count() -> None:
    # 5 orders: A in 4, B in 3, A and B together in 3, C in 2 (once with A).
    lines = _lines([["A", "B"], ["A", "B", "B"], ["A", "B", "C"], ["A"], ["C"]])
    params = BasketParameters(min_support=0, min_orders=1, min_confidence=0, min_lift=0)
    rules = basket_rules(lines, params).rules

    a_to_b = _rule(rules, "A", "B")
    assert a_to_b["orders"] == 3  # B twice in one order counts once
    assert a_to_b["antecedent_orders"] == 4
    assert a_to_b["consequent_orders"] == 3
    assert a_to_b["support"] == pytest.approx(3 / 5)
    assert a_to_b["confidence"] == pytest.approx(3 / 4)
    assert a_to_b["lift"] == pytest.approx((3 / 4) / (3 / 5))
    b_to_a = _rule(rules, "B", "A")
    assert b_to_a["confidence"] == pytest.approx(1.0)
    assert b_to_a["lift"] == pytest.approx(a_to_b["lift"])
    a_to_c = _rule(rules, "A", "C")
    assert a_to_c["support"] == pytest.approx(1 / 5)
    assert a_to_c["lift"] == pytest.approx((1 / 4) / (2 / 5))
    assert len(rules) == 6  # three pairs, both directions


def test_minimums_drop_weak_rules() -> None:
    lines = _lines([["A", "B"], ["A", "B"], ["A", "B", "C"], ["A"], ["C"]])
    strict = BasketParameters(min_support=0, min_orders=2, min_confidence=0.9, min_lift=1.1)
    rules = basket_rules(lines, strict).rules
    # A-C is in one order only; A → B has confidence 3/4 < 0.9; B → A passes.
    assert list(zip(rules["antecedent_id"], rules["consequent_id"], strict=True)) == [("B", "A")]
    capped = basket_rules(
        lines, BasketParameters(min_support=0, min_orders=1, min_lift=0, max_rules=2)
    )
    assert len(capped.rules) == 2
    assert capped.report["candidate_rules"] > 2


def test_a_planted_pair_has_the_top_lift() -> None:
    random = np.random.default_rng(7)
    products = [f"p{number:03d}" for number in range(200)]
    popularity = random.dirichlet(np.ones(len(products)))
    orders: list[list[str]] = []
    for _ in range(5000):
        size = int(random.integers(1, 4))
        orders.append(list(random.choice(products, size=size, p=popularity)))
    # Two rarely bought products, almost always bought together.
    for number in range(60):
        orders[number * 80] = ["planted-x", "planted-y", *orders[number * 80][:1]]
    result = basket_rules(_lines(orders), BasketParameters(min_support=0.002, min_orders=5))
    top = result.rules.iloc[:2]
    assert set(top["antecedent_id"]) == {"planted-x", "planted-y"}
    assert set(top["consequent_id"]) == {"planted-x", "planted-y"}
    assert top["confidence"].min() == pytest.approx(1.0)
    assert result.rules["lift"].is_monotonic_decreasing
    assert result.report["orders"] == 5000


def test_no_lines_give_no_rules() -> None:
    result = basket_rules(pd.DataFrame({"order_id": [], "product_id": []}), BasketParameters())
    assert result.rules.empty
    assert result.report["rules"] == 0


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="min_support"):
        BasketParameters(min_support=1.5)
    with pytest.raises(ValueError, match="max_rules"):
        BasketParameters(max_rules=0)
