"""Customer models through the API: a run fills the clusters, churn risk and forecast of
every customer; the insights endpoints, rule fields and built-in segments read them;
cluster ids survive the next run; a small shop skips the models and says why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_analytics.runs.service import Runner

GROUP_SIZE = 8


@pytest.fixture
def models_for_small_shops(app: FastAPI) -> Iterator[None]:
    """Models fitted from 8 customers a window on, with a 30-day horizon."""
    runner: Runner = app.state.runner
    original = runner.settings
    runner.settings = original.model_copy(
        update={"model_min_customers": 8, "model_horizon_days": 30, "cluster_k_max": 4}
    )
    try:
        yield
    finally:
        runner.settings = original


async def _planted_shop(shop: Any) -> dict[str, list[str]]:
    """Three kinds of customer: loyal ones buying big every ten days, occasional ones
    whose last order was 40 days ago, and lapsed ones gone for over 200 days."""
    groups: dict[str, list[str]] = {"loyal": [], "occasional": [], "lapsed": []}
    for number in range(GROUP_SIZE):
        loyal, occasional, lapsed = [await shop.customer() for _ in range(3)]
        for days in range(2, 120, 10):
            await shop.order(
                loyal, days_ago=days + number % 3, amount=f"{80 + number}.00", paid=False
            )
        for days in (40, 75, 100):
            await shop.order(occasional, days_ago=days, amount=f"{40 + number}.00", paid=False)
        for days in (200, 230, 260):
            await shop.order(lapsed, days_ago=days + number, amount=f"{20 + number}.00", paid=False)
        groups["loyal"].append(loyal)
        groups["occasional"].append(occasional)
        groups["lapsed"].append(lapsed)
    return groups


async def _scores(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/scores", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {item["customer_id"]: item for item in response.json()["items"]}


async def test_a_run_fills_the_models_and_their_reads(
    client: httpx.AsyncClient, shop: Any, scoring: Any, models_for_small_shops: None
) -> None:
    before = await client.get("/v1/insights/clusters")
    assert before.status_code == 200
    assert before.json()["run_id"] is None
    assert before.json()["clusters"] == []

    groups = await _planted_shop(shop)
    run = await scoring.run()
    assert run["fit"]["clusters"]["skipped"] is None
    assert run["fit"]["churn"]["skipped"] is None
    assert run["fit"]["forecast"]["skipped"] is None
    scores = await _scores(client)
    assert len(scores) == 3 * GROUP_SIZE

    # each planted group is one cluster of its own
    cluster_of = {
        name: {scores[c]["cluster_id"] for c in members} for name, members in groups.items()
    }
    assert all(len(ids) == 1 for ids in cluster_of.values()), cluster_of
    assert len(set().union(*cluster_of.values())) == 3

    response = await client.get("/v1/insights/clusters")
    assert response.status_code == 200
    assert response.headers["x-run-id"] == run["id"]
    insight = response.json()
    assert insight["k"] == 3
    assert insight["silhouette"] > 0.5
    profiles = {profile["cluster_id"]: profile for profile in insight["clusters"]}
    lapsed = profiles[next(iter(cluster_of["lapsed"]))]
    loyal = profiles[next(iter(cluster_of["loyal"]))]
    assert lapsed["customers"] == GROUP_SIZE
    assert "lapsed" in lapsed["label"]
    assert "frequent" in loyal["label"]
    assert "high spenders" in loyal["label"]
    assert loyal["revenue_share"] > 0.7
    assert sum(profile["revenue_share"] for profile in profiles.values()) == pytest.approx(1.0)
    assert loyal["centroid"]["frequency"] == pytest.approx(12, rel=0.1)
    assert lapsed["centroid"]["recency_days"] > 190

    # churn: the lapsed are the riskiest, the loyal the safest; bands and their segments
    churn = (await client.get("/v1/insights/churn")).json()
    assert churn["horizon_days"] == 30
    assert churn["medium_threshold"] == 0.5
    assert churn["high_threshold"] == 0.8
    assert 0 <= churn["validation"]["auc"] <= 1
    assert churn["validation"]["customers"] == 3 * GROUP_SIZE
    assert sum(band["customers"] for band in churn["bands"]) == 3 * GROUP_SIZE

    def mean(group: str, field: str) -> float:
        return sum(scores[c][field] for c in groups[group]) / GROUP_SIZE

    assert mean("lapsed", "churn_probability") > mean("loyal", "churn_probability") + 0.5
    assert {scores[c]["churn_risk"] for c in groups["lapsed"]} == {"high"}
    assert {scores[c]["churn_risk"] for c in groups["loyal"]} == {"low"}

    forecast = (await client.get("/v1/insights/forecast")).json()
    assert forecast["horizon_days"] == 30
    assert forecast["customers"] == 3 * GROUP_SIZE
    assert forecast["forecast_total"] == pytest.approx(
        sum(item["forecast_spend"] for item in scores.values())
    )
    assert forecast["model_error"]["mae"] >= 0
    assert forecast["naive_mean_error"]["mae"] >= 0
    assert forecast["holdout_customers"] == 3 * GROUP_SIZE
    assert mean("loyal", "forecast_spend") > 5 * mean("lapsed", "forecast_spend")

    one = await client.get(f"/v1/customers/{groups['lapsed'][0]}/scores")
    assert one.json()["cluster_label"] == lapsed["label"]
    assert one.json()["churn_risk"] == "high"
    segment_ids = {segment["id"] for segment in one.json()["segments"]}
    assert {"churn-high", f"cluster-{lapsed['cluster_id']}"} <= segment_ids

    # built-in segments: one per churn band and one per cluster, with members
    segments = {
        item["id"]: item
        for item in (await client.get("/v1/segments", params={"limit": 100})).json()["items"]
    }
    assert segments["churn-high"]["size"] == sum(
        1 for item in scores.values() if item["churn_risk"] == "high"
    )
    cluster_segment = segments[f"cluster-{lapsed['cluster_id']}"]
    assert cluster_segment["kind"] == "cluster"
    assert cluster_segment["size"] == GROUP_SIZE
    members = await client.get(f"/v1/segments/cluster-{lapsed['cluster_id']}/members")
    assert {item["customer_id"] for item in members.json()["items"]} == set(groups["lapsed"])

    # the rule language knows the new fields
    created = await client.post(
        "/v1/segments",
        json={"name": "Big spenders at risk", "rule": 'churn_risk = "high" and monetary > 70'},
    )
    assert created.status_code == 201, created.text
    assert created.json()["size"] == sum(
        1 for item in scores.values() if item["churn_risk"] == "high" and item["monetary"] > 70
    )
    assert created.json()["size"] > 0
    by_label = await client.post(
        "/v1/segments",
        json={
            "name": "Loyal cluster",
            "rule": f'cluster_label = "{loyal["label"]}" and forecast_spend > 0',
        },
    )
    assert by_label.status_code == 201, by_label.text
    assert by_label.json()["size"] == GROUP_SIZE
    bad = await client.post("/v1/segments", json={"name": "Bad", "rule": 'churn_risk = "extreme"'})
    assert bad.status_code == 422


async def test_cluster_ids_stay_across_runs(
    client: httpx.AsyncClient, shop: Any, scoring: Any, models_for_small_shops: None
) -> None:
    groups = await _planted_shop(shop)
    await scoring.run()
    first = await _scores(client)
    # a new loyal-like customer arrives; the clusters are refitted from scratch
    newcomer = await shop.customer()
    for days in range(3, 120, 10):
        await shop.order(newcomer, days_ago=days, amount="85.00", paid=False)
    second_run = await scoring.run()
    assert second_run["fit"]["clusters"]["matched_to_previous"] == 3
    second = await _scores(client)
    for members in groups.values():
        assert {second[c]["cluster_id"] for c in members} == {first[members[0]]["cluster_id"]}
    assert second[newcomer]["cluster_id"] == first[groups["loyal"][0]]["cluster_id"]

    cluster = first[groups["lapsed"][0]]["cluster_id"]
    history = (await client.get(f"/v1/segments/cluster-{cluster}/history")).json()["items"]
    assert [entry["customers"] for entry in history] == [GROUP_SIZE, GROUP_SIZE]


async def test_a_small_shop_runs_without_the_models(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    customer = await shop.customer()
    await shop.order(customer, days_ago=5, amount="30.00")
    run = await scoring.run()
    assert "fewer than 50" in run["fit"]["clusters"]["skipped"]
    assert "fewer than 50" in run["fit"]["churn"]["skipped"]
    assert "fewer than 50" in run["fit"]["forecast"]["skipped"]

    score = (await client.get(f"/v1/customers/{customer}/scores")).json()
    for field in (
        "cluster_id",
        "cluster_label",
        "churn_probability",
        "churn_risk",
        "forecast_spend",
    ):
        assert score[field] is None

    clusters = (await client.get("/v1/insights/clusters")).json()
    assert clusters["run_id"] == run["id"]
    assert clusters["clusters"] == []
    assert "fewer than 50" in clusters["skipped"]
    churn = (await client.get("/v1/insights/churn")).json()
    assert churn["validation"] is None
    assert "fewer than 50" in churn["skipped"]
    assert [band["customers"] for band in churn["bands"]] == [0, 0, 0]
    forecast = (await client.get("/v1/insights/forecast")).json()
    assert forecast["model_error"] is None
    assert forecast["customers"] == 0
    assert forecast["forecast_total"] == 0.0
    assert (await client.get("/v1/segments/churn-high")).json()["size"] == 0
    missing = await client.get("/v1/segments/cluster-0")
    assert missing.status_code == 404
