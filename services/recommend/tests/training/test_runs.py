"""Training runs end to end: from synced data to a served, evaluated, versioned model."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx

from crm_recommend.main import create_app
from crm_recommend.training.service import Trainer, process_pool
from crm_shared.testing import assert_problem, client_for, running_app


async def test_a_run_trains_evaluates_and_serves_a_version(
    shop: Any, planted: Any, model_dir: Path
) -> None:
    run = await shop.train(model="item_knn", parameters={"neighbours": 20})

    assert run["status"] == "succeeded", run["error"]
    assert run["version"] == 1 or run["version"] > 0
    assert run["data"]["customers"] == 11
    assert run["data"]["products"] == 8
    assert {"precision", "recall", "ndcg", "map", "coverage"} <= set(run["metrics"])
    assert {"load_seconds", "fit_seconds", "precompute_seconds"} <= set(run["timings"])
    assert (model_dir / f"{run['version']:06d}" / "model").is_dir()

    body = await shop.recommendations(planted.newcomer)
    assert body["model_version"] == run["version"]
    assert body["fallback"] is False
    personal = [item for item in body["items"] if item["source"] == "personal"]
    assert personal
    # The newcomer bought a kitchen product: the kitchen products come first.
    assert {item["product_id"] for item in personal[:3]} <= set(planted.kitchen[1:])

    versions = (await shop.recommend.get("/v1/models")).json()["items"]
    assert [version["active"] for version in versions] == [True]
    assert versions[0]["loaded"] is True


async def test_runs_are_listed_newest_first(shop: Any, planted: Any) -> None:
    first = await shop.train()
    second = await shop.train(model="popularity")

    listed = (await shop.recommend.get("/v1/models/training-runs", params={"limit": 1})).json()
    assert [run["id"] for run in listed["items"]] == [second["id"]]
    rest = await shop.recommend.get(
        "/v1/models/training-runs", params={"cursor": listed["next_cursor"]}
    )
    assert [run["id"] for run in rest.json()["items"]] == [first["id"]]


async def test_unknown_model_or_parameters_are_refused(shop: Any) -> None:
    response = await shop.recommend.post("/v1/models/training-runs", json={"model": "oracle"})
    assert_problem(response, 422, "unknown-model")
    response = await shop.recommend.post(
        "/v1/models/training-runs", json={"model": "item_knn", "parameters": {"colour": 1}}
    )
    assert_problem(response, 422, "unknown-model")


async def test_unknown_run_and_version_are_404(shop: Any) -> None:
    response = await shop.recommend.get(
        "/v1/models/training-runs/00000000-0000-0000-0000-000000000000"
    )
    assert_problem(response, 404, "training-run-not-found")
    response = await shop.recommend.post("/v1/models/42/activate")
    assert_problem(response, 404, "model-version-not-found")


async def test_a_version_number_out_of_range_is_a_422_not_a_database_error(shop: Any) -> None:
    for version in ("0", str(2**31), "1180078484311724523520"):
        response = await shop.recommend.post(f"/v1/models/{version}/activate")
        assert_problem(response, 422, "validation-error")


async def test_a_failed_run_keeps_the_serving_model(
    shop: Any, planted: Any, monkeypatch: Any
) -> None:
    good = await shop.train()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the model diverged")

    monkeypatch.setattr("crm_recommend.training.service.train", broken)
    failed = await shop.train()

    assert failed["status"] == "failed"
    assert "diverged" in failed["error"]
    body = await shop.recommendations(planted.newcomer)
    assert body["model_version"] == good["version"]
    assert body["fallback"] is False


async def test_rollback_activates_a_previous_version(shop: Any, planted: Any) -> None:
    first = await shop.train(model="item_knn")
    second = await shop.train(model="popularity")
    assert (await shop.recommendations(planted.newcomer))["model_version"] == second["version"]

    response = await shop.recommend.post(f"/v1/models/{first['version']}/activate")

    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
    assert (await shop.recommendations(planted.newcomer))["model_version"] == first["version"]
    versions = (await shop.recommend.get("/v1/models")).json()["items"]
    assert {version["version"]: version["active"] for version in versions} == {
        first["version"]: True,
        second["version"]: False,
    }


async def test_activating_a_version_whose_files_are_gone_is_a_conflict(
    shop: Any, planted: Any, model_dir: Path
) -> None:
    first = await shop.train()
    await shop.train(model="popularity")

    shutil.rmtree(model_dir / f"{first['version']:06d}")

    response = await shop.recommend.post(f"/v1/models/{first['version']}/activate")

    assert_problem(response, 409, "model-artefact-unavailable")


async def test_hot_swap_never_fails_a_request(shop: Any, planted: Any) -> None:
    first = await shop.train(model="item_knn")
    second = await shop.train(model="popularity")
    failures: list[str] = []
    versions: set[int | None] = set()
    stop = asyncio.Event()

    async def storefront() -> None:
        while not stop.is_set():
            response = await shop.recommend.get(f"/v1/recommendations/{planted.newcomer}")
            if response.status_code != 200 or not response.json()["items"]:
                failures.append(response.text)
            versions.add(response.json().get("model_version"))
            await asyncio.sleep(0.002)

    readers = [asyncio.create_task(storefront()) for _ in range(8)]
    for version in (first["version"], second["version"]) * 3:
        response = await shop.recommend.post(f"/v1/models/{version}/activate")
        assert response.status_code == 200
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*readers)

    assert failures == []
    assert versions == {first["version"], second["version"]}


async def test_training_in_the_real_process_pool(shop: Any, planted: Any, app: Any) -> None:
    await app.state.trainer.close()
    app.state.trainer = Trainer(app, executor_factory=process_pool)

    run = await shop.train(model="item_knn")

    assert run["status"] == "succeeded", run["error"]
    assert (await shop.recommendations(planted.newcomer))["model_version"] == run["version"]


async def test_without_a_model_everyone_gets_popular_products(shop: Any, planted: Any) -> None:
    body = await shop.recommendations(planted.newcomer)

    assert body["model_version"] is None
    assert body["fallback"] is True
    assert body["items"]
    assert {item["source"] for item in body["items"]} == {"popular"}


async def test_the_models_api_answers_without_a_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_a_restarted_replica_serves_the_active_version(
    shop: Any, planted: Any, settings: Any
) -> None:
    run = await shop.train()

    replica = create_app(settings)
    async with running_app(replica), client_for(replica) as client:
        response = await client.get(f"/v1/recommendations/{planted.newcomer}")

    assert response.json()["model_version"] == run["version"]
    assert response.json()["fallback"] is False


async def test_a_run_trains_on_what_the_sources_hold_now(shop: Any) -> None:
    """No sync beforehand: the run pulls the feeds itself before it reads the copy."""
    products = [await shop.product() for _ in range(3)]
    customers = [await shop.customer() for _ in range(2)]
    await shop.order(customers[0], products[0], products[1])
    await shop.order(customers[1], products[1], products[2])

    run = await shop.train()

    assert run["status"] == "succeeded", run["error"]
    assert run["data"]["customers"] == 2
    assert run["data"]["products"] == 3
    assert "sync_seconds" in run["timings"]


async def test_models_are_compared_on_one_holdout(shop: Any, planted: Any) -> None:
    chosen = await shop.recommend.post(
        "/v1/models/evaluations", json={"models": ["popularity", "item_knn"]}
    )
    every = await shop.recommend.post("/v1/models/evaluations", json={})
    unknown = await shop.recommend.post("/v1/models/evaluations", json={"models": ["nope"]})

    assert chosen.status_code == 200, chosen.text
    rows = chosen.json()["models"]
    assert [row["model"] for row in rows] == ["popularity", "item_knn"]
    for row in rows:
        assert row["users"] > 0
        assert 0 <= row["precision"] <= 1
        assert 0 <= row["ndcg"] <= 1
        assert 0 < row["coverage"] <= 1
    assert {row["model"] for row in every.json()["models"]} >= {"als", "ease", "popularity"}
    assert_problem(unknown, 422, "unknown-model")
    # Comparing models trains nothing that serves.
    assert (await shop.recommend.get("/v1/models")).json()["items"] == []


async def test_a_starting_replica_fails_only_its_own_host_s_unfinished_runs(
    shop: Any, settings: Any
) -> None:
    """Replicas share the database: a run another host is training must survive this
    host's restart; one this host left behind is marked failed."""
    from crm_recommend.training.models import training_runs
    from crm_shared.db import utcnow

    mine, theirs = uuid.uuid4(), uuid.uuid4()
    common = {
        "status": "running",
        "trigger": "request",
        "model": "als",
        "parameters": {},
        "activate": True,
        "created_at": utcnow(),
    }
    async with shop.app.state.database.writer() as db:
        await db.execute(
            training_runs.insert(),
            [
                {**common, "id": mine, "worker": socket.gethostname()},
                {**common, "id": theirs, "worker": "another-host"},
            ],
        )

    replica = create_app(settings)
    async with running_app(replica), client_for(replica) as client:
        left = (await client.get(f"/v1/models/training-runs/{mine}")).json()
        other = (await client.get(f"/v1/models/training-runs/{theirs}")).json()

    assert left["status"] == "failed"
    assert other["status"] == "running"
