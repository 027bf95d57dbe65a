"""`score_customers` with the customer models: every scored customer gets a cluster, a
churn probability and a spend forecast; the previous clusters carry their ids over; the
models can be turned off."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from crm_analytics.scoring import pipeline
from crm_analytics.scoring.clusters import PreviousCluster

from .conftest import AS_OF

MODEL_COLUMNS = ["cluster_id", "cluster_label", "churn_probability", "churn_risk", "forecast_spend"]


@pytest.fixture(scope="module")
def result(churning_shop: pd.DataFrame) -> pipeline.ScoringResult:
    return pipeline.score_customers(churning_shop, pipeline.ScoringParameters(as_of=AS_OF))


def test_every_customer_gets_the_model_columns(result: pipeline.ScoringResult) -> None:
    scores = result.scores
    assert scores[MODEL_COLUMNS].notna().all().all()
    assert set(scores["churn_risk"]) <= {"low", "medium", "high"}
    assert (scores["forecast_spend"] >= 0).all()
    for model in ("clusters", "churn", "forecast"):
        assert result.fit[model]["skipped"] is None
        assert result.fit["timings"][model] > 0
    assert result.fit["churn"]["validation"]["auc"] > 0.85
    profiles = {profile["cluster_id"]: profile for profile in result.cluster_profiles}
    assert len(profiles) == result.fit["clusters"]["k"]
    sizes = scores["cluster_id"].value_counts()
    assert {key: profile["customers"] for key, profile in profiles.items()} == sizes.to_dict()
    for cluster_id, profile in profiles.items():
        labels = set(scores.loc[scores["cluster_id"] == cluster_id, "cluster_label"])
        assert labels == {profile["label"]}


def test_the_previous_clusters_keep_their_ids(
    churning_shop: pd.DataFrame, result: pipeline.ScoringResult
) -> None:
    previous = tuple(
        PreviousCluster(profile["cluster_id"] + 10, profile["centroid"])
        for profile in result.cluster_profiles
    )
    params = dataclasses.replace(
        pipeline.ScoringParameters(as_of=AS_OF), previous_clusters=previous
    )
    again = pipeline.score_customers(churning_shop.sample(frac=1.0, random_state=3), params)
    moved = again.scores["cluster_id"].reindex(result.scores.index)
    assert (moved == result.scores["cluster_id"] + 10).mean() > 0.99


def test_the_models_can_be_turned_off(churning_shop: pd.DataFrame) -> None:
    params = pipeline.ScoringParameters(as_of=AS_OF, customer_models=False)
    result = pipeline.score_customers(churning_shop, params)
    assert result.scores[MODEL_COLUMNS].isna().all().all()
    assert result.cluster_profiles == ()
    assert "churn" not in result.fit
