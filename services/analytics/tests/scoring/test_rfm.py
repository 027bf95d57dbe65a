"""RFM: the purchase summary, quintile scores and ties, and every named segment."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import numpy as np
import pandas as pd
import pytest

from crm_analytics.scoring import rfm
from crm_analytics.scoring.pipeline import ScoringParameters, score_customers

AS_OF = dt.date(2026, 6, 30)


def order_lines(rows: list[tuple[object, object, str, float, int]]) -> pd.DataFrame:
    """(customer_id, order_id, placed_at ISO, net amount, net quantity) per line."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "placed_at", "amount", "quantity"]
    )
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
    return frame


def test_quintiles_without_ties_are_two_per_score_of_ten() -> None:
    values = np.array([7, 3, 9, 1, 5, 2, 8, 4, 10, 6])
    scores = rfm.quintile_scores(values)
    assert dict(zip(values.tolist(), scores.tolist(), strict=True)) == {
        1: 1,
        2: 1,
        3: 2,
        4: 2,
        5: 3,
        6: 3,
        7: 4,
        8: 4,
        9: 5,
        10: 5,
    }
    reversed_scores = rfm.quintile_scores(values, higher_is_better=False)
    assert (reversed_scores == 6 - scores).all()


def test_tied_values_share_the_score_of_their_middle() -> None:
    # Six customers with one order occupy positions [0, 6) of 10: middle 3/10 -> score 2;
    # two with 2 orders [6, 8) -> 7/10 -> 4; two with 3 orders [8, 10) -> 9/10 -> 5.
    values = np.array([1, 2, 1, 3, 1, 1, 2, 1, 3, 1])
    scores = rfm.quintile_scores(values)
    assert scores.tolist() == [2, 4, 2, 5, 2, 2, 4, 2, 5, 2]
    # Shuffling the rows changes nothing for anybody: ties are never split.
    order = np.random.default_rng(3).permutation(len(values))
    assert (rfm.quintile_scores(values[order]) == scores[order]).all()


def test_everybody_tied_scores_three() -> None:
    assert rfm.quintile_scores(np.full(7, 4.0)).tolist() == [3] * 7


def test_summary_counts_orders_net_of_refunds() -> None:
    lines = order_lines(
        [
            # Order 1: two lines, one partly refunded (40 back of 100).
            ("alice", "o1", "2026-06-01T10:00:00Z", 60.0, 1),
            ("alice", "o1", "2026-06-01T10:00:00Z", 25.0, 2),
            # Order 2: fully refunded, so not a purchase even though it is the latest.
            ("alice", "o2", "2026-06-20T10:00:00Z", 0.0, 0),
            ("alice", "o3", "2026-05-01T09:00:00Z", 15.0, 1),
            ("bob", "o4", "2026-06-29T23:00:00Z", 10.0, 1),
        ]
    )
    summary = rfm.customer_summary(lines, AS_OF)
    alice = summary.loc["alice"]
    assert alice["frequency"] == 2
    assert alice["monetary"] == pytest.approx(100.0)
    assert alice["quantity"] == 4
    assert alice["recency_days"] == 29  # 2026-06-01, not the refunded 2026-06-20
    assert alice["tenure_days"] == 60
    assert alice["last_purchase_at"] == pd.Timestamp("2026-06-01T10:00:00Z")
    assert summary.loc["bob", "recency_days"] == 1


def test_as_of_ends_the_history_at_the_end_of_that_day() -> None:
    lines = order_lines(
        [
            ("alice", "o1", "2026-06-30T23:59:59Z", 20.0, 1),
            ("alice", "o2", "2026-07-01T00:00:00Z", 500.0, 9),
            ("carol", "o3", "2026-07-02T12:00:00Z", 30.0, 1),
        ]
    )
    summary = rfm.customer_summary(lines, AS_OF)
    assert summary.index.tolist() == ["alice"]
    assert summary.loc["alice", "monetary"] == pytest.approx(20.0)
    assert summary.loc["alice", "recency_days"] == 0
    later = rfm.customer_summary(lines, dt.date(2026, 7, 2))
    assert later.loc["alice", "monetary"] == pytest.approx(520.0)
    assert "carol" in later.index


def test_same_day_orders_are_one_purchase_date() -> None:
    lines = order_lines(
        [
            ("alice", "o1", "2026-06-01T08:00:00Z", 10.0, 1),
            ("alice", "o2", "2026-06-01T18:00:00Z", 30.0, 1),
            ("alice", "o3", "2026-06-10T18:00:00Z", 5.0, 1),
        ]
    )
    row = rfm.customer_summary(lines, AS_OF).loc["alice"]
    assert row["frequency"] == 3
    assert row["purchase_days"] == 2
    assert row["first_day_amount"] == pytest.approx(40.0)


def test_ids_are_kept_as_given_and_order_ids_may_repeat_across_customers() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    lines = order_lines(
        [
            (first, 1, "2026-06-01T08:00:00Z", 10.0, 1),
            (second, 1, "2026-06-02T08:00:00Z", 30.0, 1),
            (second, 2, "2026-06-03T08:00:00Z", 30.0, 1),
        ]
    )
    summary = rfm.customer_summary(lines, AS_OF)
    assert summary.index.name == "customer_id"
    assert set(summary.index) == {first, second}
    assert summary.loc[first, "frequency"] == 1
    assert summary.loc[second, "frequency"] == 2


def test_line_order_does_not_matter() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for number in range(400):
        customer = f"c{rng.integers(0, 60)}"
        day = pd.Timestamp("2026-01-01T09:00:00Z") + pd.Timedelta(days=int(rng.integers(0, 200)))
        for _ in range(int(rng.integers(1, 4))):
            amount = float(rng.choice([0.0, 5.0, 12.5, 40.0]))
            rows.append((customer, number % 150, day.isoformat(), amount, 1))
    grouped = order_lines(rows)
    shuffled = grouped.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        rfm.customer_summary(shuffled, AS_OF).sort_index(),
        rfm.customer_summary(grouped, AS_OF).sort_index(),
    )
    # Order ids are reused across customers (number % 150): each customer's is its own.
    in_window = grouped[grouped["placed_at"] < pd.Timestamp("2026-07-01", tz="UTC")]
    by_pandas = in_window.groupby(["customer_id", "order_id"])["amount"].sum()
    purchases = by_pandas[by_pandas >= rfm.MIN_PURCHASE_AMOUNT].groupby(level=0).size()
    summary = rfm.customer_summary(grouped, AS_OF)
    assert summary["frequency"].sort_index().to_dict() == purchases.sort_index().to_dict()


def test_categorical_ids_give_the_same_summary() -> None:
    lines = order_lines(
        [
            ("alice", "o1", "2026-06-01T08:00:00Z", 10.0, 1),
            ("bob", "o2", "2026-06-02T08:00:00Z", 30.0, 2),
            ("alice", "o3", "2026-06-03T08:00:00Z", 5.0, 1),
        ]
    )
    plain = rfm.customer_summary(lines, AS_OF)
    lines["customer_id"] = pd.Categorical(lines["customer_id"], categories=["zed", "bob", "alice"])
    categorical = rfm.customer_summary(lines, AS_OF)
    assert "zed" not in categorical.index  # a category with no purchase gets no row
    pd.testing.assert_frame_equal(
        categorical.sort_index(), plain.sort_index(), check_index_type=False
    )


# One customer per (r, f, m) level: each level is a block of 25 tied customers out of
# 125, whose middle falls in quintile `level`, so the scores are exactly the levels.
LEVELS = range(1, 6)


def factorial_lines() -> pd.DataFrame:
    rows = []
    for number, (r, f, m) in enumerate(itertools.product(LEVELS, LEVELS, LEVELS)):
        last = (
            pd.Timestamp(AS_OF, tz="UTC") - pd.Timedelta(days=40 * (5 - r)) + pd.Timedelta(hours=12)
        )
        for k in range(f):
            placed = last - pd.Timedelta(days=300 * k // f + 1 if k else 0)
            rows.append((f"{r}{f}{m}", f"{number}-{k}", placed.isoformat(), 100.0 * m / f, 1))
    return order_lines(rows)


EXPECTED_SEGMENTS = {
    # (r, f, m): segment, one designed customer per segment
    (5, 5, 5): "Champions",
    (4, 4, 4): "Loyal",
    (4, 2, 2): "Potential Loyalist",
    (5, 1, 1): "New Customers",
    (4, 1, 1): "Promising",
    (3, 3, 3): "Need Attention",
    (3, 1, 1): "About to Sleep",
    (2, 3, 3): "At Risk",
    (1, 5, 5): "Can't Lose Them",
    (2, 1, 1): "Hibernating",
    (1, 1, 1): "Lost",
}


def test_every_segment_occurs_on_data_built_for_it() -> None:
    scores = score_customers(factorial_lines(), ScoringParameters(as_of=AS_OF)).scores
    for key in itertools.product(LEVELS, LEVELS, LEVELS):
        row = scores.loc["".join(map(str, key))]
        assert (row["r_score"], row["f_score"], row["m_score"]) == key
        fm = (key[1] + key[2]) // 2
        assert row["rfm_segment"] == rfm.SEGMENT_GRID[key[0] - 1][fm - 1]
    for key, segment in EXPECTED_SEGMENTS.items():
        assert scores.loc["".join(map(str, key)), "rfm_segment"] == segment
    assert set(scores["rfm_segment"]) == set(rfm.SEGMENTS)
    assert set(EXPECTED_SEGMENTS.values()) == set(rfm.SEGMENTS)


def test_segment_grid_names_every_segment_once_per_cell() -> None:
    cells = [name for row in rfm.SEGMENT_GRID for name in row]
    assert len(rfm.SEGMENT_GRID) == 5
    assert all(len(row) == 5 for row in rfm.SEGMENT_GRID)
    assert set(cells) == set(rfm.SEGMENTS)
    assert len(rfm.SEGMENTS) == 11
