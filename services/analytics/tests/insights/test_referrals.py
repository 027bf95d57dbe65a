"""Referral influence on a planted graph: downstream counts and revenue, PageRank order,
merges, deletions, erasures and loops."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.insights.referrals import ReferralParameters, referral_influence

PARAMS = ReferralParameters()


def _customers(rows: list[tuple[str, str, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "status", "merged_into", "referred_by"])


def _live(referrals: dict[str, str | None]) -> pd.DataFrame:
    return _customers([(name, "live", None, referrer) for name, referrer in referrals.items()])


def test_a_chain_gives_downstream_counts_revenue_and_influence_order() -> None:
    # a → b → c → d, and a → e; f is on its own.
    customers = _live({"a": None, "b": "a", "c": "b", "d": "c", "e": "a", "f": None})
    revenue = pd.Series({"a": 1.0, "b": 10.0, "c": 20.0, "d": 40.0, "e": 5.0, "f": 99.0})
    result = referral_influence(customers, revenue, PARAMS).referrals

    assert set(result.index) == {"a", "b", "c", "d", "e"}
    assert result["referrals_direct"].to_dict() == {"a": 2, "b": 1, "c": 1, "d": 0, "e": 0}
    assert result["referrals_downstream"].to_dict() == {"a": 4, "b": 2, "c": 1, "d": 0, "e": 0}
    assert result.loc["a", "referral_revenue"] == pytest.approx(75.0)
    assert result.loc["b", "referral_revenue"] == pytest.approx(60.0)
    assert result.loc["c", "referral_revenue"] == pytest.approx(40.0)
    assert result.loc["d", "referral_revenue"] == 0.0
    influence = result["referral_influence"]
    assert influence["a"] > influence["b"] > influence["c"] > influence["d"]
    assert influence.sum() == pytest.approx(len(result))  # 1 is the average
    assert list(result.index[:3]) == ["a", "b", "c"]


def test_a_referrer_of_referrers_outranks_one_with_as_many_leaves() -> None:
    # r1 referred two who each referred one; r2 referred two who referred nobody.
    customers = _live(
        {"r1": None, "x1": "r1", "x2": "r1", "y1": "x1", "y2": "x2",
         "r2": None, "z1": "r2", "z2": "r2"}
    )  # fmt: skip
    result = referral_influence(customers, pd.Series(dtype=float), PARAMS).referrals
    assert result.loc["r1", "referrals_direct"] == result.loc["r2", "referrals_direct"] == 2
    assert result.loc["r1", "referral_influence"] > result.loc["r2", "referral_influence"]


def test_merged_referrers_count_for_their_survivor() -> None:
    customers = _customers(
        [
            ("keep", "live", None, None),
            ("dup", "merged", "keep", None),
            ("older", "merged", "dup", None),  # a chain of merges
            ("b", "live", None, "dup"),
            ("c", "live", None, "older"),
            ("d", "live", None, "keep"),
            ("self", "merged", "d", None),
            ("e", "live", None, "self"),
        ]
    )
    result = referral_influence(customers, pd.Series({"b": 3.0, "c": 4.0, "e": 1.0}), PARAMS)
    frame = result.referrals
    assert frame.loc["keep", "referrals_direct"] == 3  # b, c and d
    assert frame.loc["keep", "referrals_downstream"] == 4  # and e through d
    assert frame.loc["keep", "referral_revenue"] == pytest.approx(8.0)
    assert "dup" not in frame.index
    assert "older" not in frame.index


def test_deleted_and_erased_customers_leave_the_graph() -> None:
    customers = _customers(
        [
            ("a", "live", None, None),
            ("gone", "deleted", None, None),
            ("forgotten", "erased", None, None),
            ("b", "live", None, "gone"),
            ("c", "live", None, "b"),
            ("d", "live", None, "forgotten"),
            ("e", "live", None, "a"),
            ("f", "live", None, "unknown-to-the-copy"),
        ]
    )
    frame = referral_influence(customers, pd.Series(dtype=float), PARAMS).referrals
    assert set(frame.index) == {"a", "b", "c", "e"}
    assert frame.loc["b", "referrals_downstream"] == 1


def test_a_referral_loop_counts_every_customer_once() -> None:
    customers = _live({"a": "c", "b": "a", "c": "b", "d": "c"})
    frame = referral_influence(customers, pd.Series({"d": 5.0, "a": 1.0}), PARAMS).referrals
    # Each of a, b, c reaches the other two and d.
    assert frame.loc[["a", "b", "c"], "referrals_downstream"].tolist() == [3, 3, 3]
    assert frame.loc["b", "referral_revenue"] == pytest.approx(6.0)
    assert frame.loc["a", "referral_revenue"] == pytest.approx(5.0)


def test_no_referrals_give_an_empty_frame() -> None:
    result = referral_influence(_live({"a": None}), pd.Series(dtype=float), PARAMS)
    assert result.referrals.empty
    assert result.report["customers"] == 0
