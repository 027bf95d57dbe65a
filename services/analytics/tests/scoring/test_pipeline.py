"""`score_customers`: the contract the analytics runs rely on."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from crm_analytics.scoring import pipeline, synthetic

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return synthetic.order_lines(
        3_000,
        as_of=AS_OF,
        acquisition_days=2 * 365,
        bgnbd=synthetic.BgNbdTruth(0.8, 12.0, 0.9, 4.0),
        gamma_gamma=synthetic.GammaGammaTruth(6.0, 4.0, 20.0),
        seed=11,
    )


@pytest.fixture(scope="module")
def result(shop: pd.DataFrame) -> pipeline.ScoringResult:
    return pipeline.score_customers(shop, pipeline.ScoringParameters(as_of=AS_OF))


def test_scores_have_the_contract_columns(result: pipeline.ScoringResult) -> None:
    scores = result.scores
    assert scores.index.name == "customer_id"
    assert scores.index.is_unique
    assert list(scores.columns) == list(pipeline.SCORE_COLUMNS)
    assert scores[["r_score", "f_score", "m_score"]].isin(range(1, 6)).all().all()
    assert set(scores["value_tier"]) == {"low", "medium", "high"}
    assert set(scores["lifecycle_stage"]) <= {"new", "active", "at_risk", "churned"}
    numeric = scores[["expected_purchases", "probability_alive", "expected_order_value", "clv"]]
    assert np.isfinite(numeric.to_numpy()).all()
    assert ((scores["probability_alive"] >= 0) & (scores["probability_alive"] <= 1)).all()
    assert (scores["frequency"] >= 1).all()
    assert (scores["recency_days"] >= 0).all()


def test_fit_report_is_json_with_the_parameters(result: pipeline.ScoringResult) -> None:
    report = json.loads(json.dumps(result.fit, allow_nan=False))
    for name in ("r", "alpha", "a", "b", "log_likelihood", "converged", "iterations", "customers"):
        assert name in report["bgnbd"]
    for name in ("p", "q", "gamma", "log_likelihood", "converged", "customers"):
        assert name in report["gamma_gamma"]
    assert report["bgnbd"]["converged"] is True
    assert report["counts"]["customers"] == len(result.scores)
    assert report["timings"]["total"] >= 0


def test_simulated_shop_fits_near_its_parameters(result: pipeline.ScoringResult) -> None:
    # Purchases on whole days and same-day merging blur the continuous-time story a
    # little; with 3,000 customers the estimates still land within 35 % of the truth.
    bgnbd = result.fit["bgnbd"]
    for name, true in {"r": 0.8, "alpha": 12.0, "a": 0.9, "b": 4.0}.items():
        assert bgnbd[name] == pytest.approx(true, rel=0.35), name
    spend = result.fit["gamma_gamma"]
    assert spend["p"] * spend["gamma"] / (spend["q"] - 1) == pytest.approx(6.0 * 20 / 3, rel=0.15)


def test_higher_clv_for_recent_frequent_buyers(result: pipeline.ScoringResult) -> None:
    scores = result.scores
    champions = scores.loc[scores["rfm_segment"] == "Champions", "clv"].median()
    lost = scores.loc[scores["rfm_segment"] == "Lost", "clv"].median()
    assert champions > 5 * lost


def test_later_purchases_do_not_change_the_scores(shop: pd.DataFrame) -> None:
    params = pipeline.ScoringParameters(as_of=dt.date(2026, 6, 1))
    before = pipeline.score_customers(shop, params).scores
    cut = shop[shop["placed_at"] < pd.Timestamp("2026-06-02", tz="UTC")]
    again = pipeline.score_customers(cut, params).scores
    pd.testing.assert_frame_equal(
        before.sort_index(), again.sort_index(), check_index_type=False, check_categorical=False
    )


def test_no_purchases_gives_no_rows() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": ["a"],
            "order_id": ["o1"],
            "placed_at": pd.to_datetime(["2026-10-01T10:00:00Z"]),
            "amount": [0.0],
            "quantity": [0],
        }
    )
    result = pipeline.score_customers(lines, pipeline.ScoringParameters(as_of=AS_OF))
    assert result.scores.empty
    assert result.fit["bgnbd"]["converged"] is False
    json.dumps(result.fit, allow_nan=False)


def test_a_shop_without_repeat_buyers_still_scores() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_id": ["o1", "o2", "o3"],
            "placed_at": pd.to_datetime(
                ["2026-10-01T10:00:00Z", "2026-06-01T10:00:00Z", "2025-01-01T10:00:00Z"]
            ),
            "amount": [10.0, 20.0, 30.0],
            "quantity": [1, 1, 1],
        }
    )
    result = pipeline.score_customers(lines, pipeline.ScoringParameters(as_of=AS_OF))
    assert len(result.scores) == 3
    assert result.fit["bgnbd"]["skipped"]
    assert (result.scores["expected_order_value"] == 20.0).all()
    assert (result.scores["clv"] == 0.0).all()
    assert list(result.scores["lifecycle_stage"]) == ["new", "active", "churned"]
    json.dumps(result.fit, allow_nan=False)


def test_dcf_clv_uses_the_monthly_revenue_so_far() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_id": ["o1", "o2", "o3"],
            # a: 600 over 365.25 days = 12 months; b: bought today, counted as one month.
            "placed_at": pd.to_datetime(
                ["2025-11-01T12:00:00Z", "2026-05-01T12:00:00Z", "2026-11-01T12:00:00Z"]
            ),
            "amount": [400.0, 200.0, 50.0],
            "quantity": [1, 1, 1],
        }
    )
    params = pipeline.ScoringParameters(as_of=AS_OF, clv_horizon_months=3)
    scores = pipeline.score_customers(lines, params).scores
    annuity = 1 / 1.01 + 1 / 1.01**2 + 1 / 1.01**3
    assert scores.loc["a", "dcf_clv"] == pytest.approx(
        600 / (365 / pipeline.DAYS_PER_MONTH) * annuity
    )
    assert scores.loc["b", "dcf_clv"] == pytest.approx(50 * annuity)


def test_no_lines_at_all() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "order_id": pd.Series([], dtype=object),
            "placed_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "amount": pd.Series([], dtype=float),
            "quantity": pd.Series([], dtype=int),
        }
    )
    result = pipeline.score_customers(lines, pipeline.ScoringParameters(as_of=AS_OF))
    assert result.scores.empty
    assert list(result.scores.columns) == list(pipeline.SCORE_COLUMNS)
    assert result.fit["counts"]["customers"] == 0


def test_a_shop_of_identical_buyers_gets_finite_lifetime_values() -> None:
    # Uniformly random purchases: no difference in rates between customers, so the
    # BG/NBD fit runs to its bounds; the predictions must still be usable numbers.
    rng = np.random.default_rng(8)
    lines = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 400, 3_000).astype(str),
            "order_id": np.arange(3_000),
            "placed_at": pd.Timestamp("2026-11-01T08:00:00Z")
            - pd.to_timedelta(rng.integers(0, 700, 3_000), unit="D"),
            "amount": rng.uniform(5, 50, 3_000).round(2),
            "quantity": 1,
        }
    )
    result = pipeline.score_customers(lines, pipeline.ScoringParameters(as_of=AS_OF))
    assert result.fit["bgnbd"]["at_bounds"]
    json.dumps(result.fit, allow_nan=False)
    lifetime = result.scores[["expected_purchases", "probability_alive", "clv"]].to_numpy()
    assert np.isfinite(lifetime).all()
    assert (lifetime >= 0).all()
    assert result.scores["expected_purchases"].mean() > 0.5


@pytest.mark.parametrize(
    "change",
    [
        {"clv_horizon_months": 0},
        {"monthly_discount_rate": -0.01},
        {"value_weights": (0.5, -0.1, 0.6)},
        {"tier_quantiles": (0.9, 0.5)},
        {"active_days": 200, "at_risk_days": 180},
        {"churned_days": 100},
    ],
)
def test_parameters_are_checked_when_made(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|need|weights"):
        pipeline.ScoringParameters(as_of=AS_OF, **change)  # type: ignore[arg-type]
