"""The spend forecast: beats the naive mean on the holdout, reports BG/NBD beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_analytics.scoring import forecast, windows

from .conftest import AS_OF


def test_the_forecast_beats_the_naive_mean_and_is_compared_with_bgnbd(
    churning_shop: pd.DataFrame,
) -> None:
    split = windows.time_split(churning_shop, AS_OF, 90)
    result = forecast.fit_forecast(split, forecast.ForecastParameters())

    assert result.report["skipped"] is None
    holdout = result.report["validation"]
    assert holdout["customers"] == len(split.validation)
    assert holdout["model"]["mae"] < 0.8 * holdout["naive_mean"]["mae"]
    assert holdout["model"]["rmse"] < holdout["naive_mean"]["rmse"]
    assert holdout["bgnbd"] is not None
    assert holdout["bgnbd_skipped"] is None
    assert holdout["bgnbd"]["mae"] > 0
    # totals of the holdout are in the right range, not just the per-customer errors
    assert abs(holdout["model"]["predicted_total"] / holdout["actual_total"] - 1) < 0.35

    assert result.spend is not None
    assert len(result.spend) == len(split.latest)
    assert (result.spend >= 0).all()
    # customers who stopped long ago are forecast (almost) nothing, steady buyers more
    recency = split.latest.summary["recency_days"].to_numpy()
    assert np.mean(result.spend[recency > 365]) < 0.2 * np.mean(result.spend[recency < 30])
    assert result.report["forecast_total"] == float(result.spend.sum())


def test_a_small_shop_has_no_forecast(churning_shop: pd.DataFrame) -> None:
    few = churning_shop[churning_shop["customer_id"] < "c00020"]
    result = forecast.fit_forecast(
        windows.time_split(few, AS_OF, 90), forecast.ForecastParameters()
    )
    assert result.spend is None
    assert "fewer than 50" in result.report["skipped"]
