"""Scoring runs end to end: sync, score, swap in atomically, report; one at a time; a
source that is down; the lifecycle push; retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pandas as pd
from fastapi import FastAPI
from sqlalchemy import func, select

from crm_analytics.main import _scheduled_run
from crm_analytics.runs.models import customer_scores
from crm_analytics.runs.service import Runner
from crm_analytics.scoring.pipeline import ScoringParameters, ScoringResult, score_customers
from crm_analytics.sync.service import sync_all
from crm_shared.db import Database
from crm_shared.sync import Sources
from crm_shared.testing import assert_problem

TODAY = dt.datetime.now(dt.UTC).date()


async def _small_shop(shop: Any) -> list[str]:
    """Four customers: a frequent recent buyer, a lapsed one, a new one, a one-off."""
    frequent, lapsed, new, once = [await shop.customer() for _ in range(4)]
    for days in (3, 20, 45, 80, 120):
        await shop.order(frequent, days_ago=days, amount="40.00", paid=False)
    for days in (250, 300, 400):
        await shop.order(lapsed, days_ago=days, amount="25.00", paid=False)
    await shop.order(new, days_ago=4, amount="15.00")
    await shop.order(once, days_ago=500, amount="5.00")
    return [frequent, lapsed, new, once]


@contextmanager
def blocked_scoring(
    runner: Runner, *, fail: bool = False
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Scoring that waits (on its worker thread) until released, then scores or fails."""
    entered, release = threading.Event(), threading.Event()

    def score(lines: pd.DataFrame, params: ScoringParameters) -> ScoringResult:
        entered.set()
        release.wait(30)
        if fail:
            raise RuntimeError("the scoring maths broke")
        return score_customers(lines, params)

    runner.score = score
    try:
        yield entered, release
    finally:
        release.set()
        runner.score = score_customers


async def test_a_run_syncs_scores_and_reports_itself(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    customers = await _small_shop(shop)
    queued = await scoring.start()
    assert queued["status"] in ("queued", "running")
    assert queued["trigger"] == "manual"
    run = await scoring.finish(queued["id"])

    assert run["status"] == "succeeded"
    assert run["current"] is True
    assert run["as_of"] == TODAY.isoformat()
    assert run["lines_scored"] == 10
    assert run["customers_scored"] == 4
    assert run["memberships"] == 8  # one RFM segment and one value tier each
    assert run["duration_seconds"] >= 0
    assert run["started_at"] <= run["finished_at"]
    assert run["parameters"]["clv_horizon_months"] == 12
    assert run["parameters"]["value_weights"] == [0.3, 0.5, 0.2]
    assert "bgnbd" in run["fit"]
    assert {feed["feed"]: (feed["ok"], feed["lines"]) for feed in run["sync"]} == {
        "customers": (True, 4),
        "order_lines": (True, 10),
        "interactions": (True, 0),
        "tickets": (True, 0),
    }
    assert run["data_as_of"] is not None

    listed = (await client.get("/v1/runs")).json()
    assert [item["id"] for item in listed["items"]] == [run["id"]]
    scores = await client.get(f"/v1/customers/{customers[0]}/scores")
    assert scores.status_code == 200
    assert scores.headers["x-run-id"] == run["id"]
    assert float(scores.headers["x-data-staleness-seconds"]) >= 0
    body = scores.json()
    assert body["frequency"] == 5
    assert body["monetary"] == 200.0
    assert body["recency_days"] == 3
    assert {segment["kind"] for segment in body["segments"]} == {"rfm", "tier"}
    assert body["lifecycle_stage"] == "active"
    assert (await client.get(f"/v1/customers/{customers[3]}/scores")).json()[
        "lifecycle_stage"
    ] == "churned"


async def test_a_run_as_of_a_past_day_leaves_later_orders_out(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    customers = await _small_shop(shop)
    as_of = TODAY - dt.timedelta(days=100)
    run = await scoring.run(as_of=as_of.isoformat())
    assert run["as_of"] == as_of.isoformat()
    assert run["lines_scored"] == 5  # 120, 250, 300, 400 and 500 days ago
    frequent = (await client.get(f"/v1/customers/{customers[0]}/scores")).json()
    assert frequent["frequency"] == 1
    assert_problem(await client.get(f"/v1/customers/{customers[2]}/scores"), 404)


async def test_one_run_at_a_time(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    await _small_shop(shop)
    runner: Runner = app.state.runner
    with blocked_scoring(runner) as (entered, release):
        running = await scoring.start()
        await asyncio.to_thread(entered.wait, 30)
        problem = assert_problem(await client.post("/v1/runs"), 409, "run-in-progress")
        assert problem["run_id"] == running["id"]
        assert (await _scheduled_run(app)).startswith("skipped")
        release.set()
        assert (await scoring.finish(running["id"]))["status"] == "succeeded"
    again = await scoring.run()
    assert again["id"] != running["id"]


async def test_the_previous_run_serves_while_a_run_is_in_progress_and_after_it_fails(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, scoring: Any
) -> None:
    customers = await _small_shop(shop)
    first = await scoring.run()
    await shop.order(customers[2], days_ago=1, amount="100.00")
    runner: Runner = app.state.runner

    with blocked_scoring(runner, fail=True) as (entered, release):
        second = await scoring.start()
        await asyncio.to_thread(entered.wait, 30)
        during = await client.get(f"/v1/customers/{customers[2]}/scores")
        assert during.headers["x-run-id"] == first["id"]
        assert during.json()["frequency"] == 1
        assert (await client.get(f"/v1/runs/{second['id']}")).json()["status"] == "running"
        release.set()
        failed = await scoring.finish(second["id"])

    assert failed["status"] == "failed"
    assert "the scoring maths broke" in failed["error"]
    assert failed["current"] is False
    after = await client.get(f"/v1/customers/{customers[2]}/scores")
    assert after.headers["x-run-id"] == first["id"]
    assert after.json()["frequency"] == 1
    summary = (await client.get("/v1/scores/summary")).json()
    assert summary["run_id"] == first["id"]
    assert summary["customers"] == 4
    async with database.engine.connect() as db:
        leftovers = await db.scalar(
            select(func.count())
            .select_from(customer_scores)
            .where(customer_scores.c.run_id == uuid.UUID(second["id"]))
        )
    assert leftovers == 0

    third = await scoring.run()
    swapped = await client.get(f"/v1/customers/{customers[2]}/scores")
    assert swapped.headers["x-run-id"] == third["id"]
    assert swapped.json()["frequency"] == 2


async def test_a_source_that_is_down_leaves_the_run_scoring_the_copy_it_has(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any, down: Any
) -> None:
    customers = await _small_shop(shop)
    real: Sources = app.state.sources
    app.state.sources = Sources(customers=real.customers, orders=down())
    try:
        never_copied = await scoring.finish((await scoring.start())["id"])
    finally:
        app.state.sources = real
    assert never_copied["status"] == "failed"
    assert "no complete copy yet of order_lines" in never_copied["error"]
    assert (await client.get("/v1/scores/summary")).json()["run_id"] is None

    first = await scoring.run()
    await shop.order(customers[0], days_ago=1, amount="500.00")
    app.state.sources = Sources(customers=real.customers, orders=down())
    try:
        second = await scoring.run()
        ready = await client.get("/ready")
    finally:
        app.state.sources = real

    feeds = {feed["feed"]: feed for feed in second["sync"]}
    assert feeds["customers"]["ok"] is True
    assert feeds["order_lines"]["ok"] is False
    assert "connection refused" in feeds["order_lines"]["error"]
    assert feeds["order_lines"]["synced_at"] == first_synced(first, "order_lines")
    assert second["data_as_of"] == feeds["order_lines"]["synced_at"]
    assert second["customers_scored"] == 4
    assert second["lines_scored"] == 10  # the new order is not in the copy

    assert ready.status_code == 200
    note = ready.json()["checks"]["feeds"]
    assert note.startswith("ok: serving run " + second["id"])
    assert "still ready although the source of order_lines, interactions is down" in note
    scores = await client.get(f"/v1/customers/{customers[0]}/scores")
    assert (
        scores.headers["x-data-as-of"]
        == dt.datetime.fromisoformat(second["data_as_of"]).isoformat()
    )
    assert scores.json()["frequency"] == 5


def first_synced(run: dict[str, Any], feed: str) -> str:
    synced: str = next(item for item in run["sync"] if item["feed"] == feed)["synced_at"]
    return synced


async def test_not_ready_when_a_source_fails_before_any_run_succeeded(
    app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Any, down: Any
) -> None:
    fresh = await client.get("/ready")
    assert fresh.status_code == 200
    assert fresh.json()["checks"]["feeds"].startswith("ok: no run yet")
    report = await sync_all(database, Sources(customers=down(), orders=down()), 100)
    assert [feed.ok for feed in report.feeds] == [False, False, False, False]
    problem = assert_problem(await client.get("/ready"), 503, "not-ready")
    assert problem["checks"]["feeds"] == "failing: FeedsUnavailable"
    assert problem["checks"]["database"] == "ok"


async def test_lifecycle_stages_go_back_to_the_customer_service_once(
    app: FastAPI, shop: Any, scoring: Any
) -> None:
    frequent, lapsed, new, once = await _small_shop(shop)
    real: Sources = app.state.sources

    def refuse_patches(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            raise httpx.ConnectError("customer service down", request=request)
        raise AssertionError("only lifecycle updates go through this client")

    feeds_only = httpx.AsyncClient(
        transport=httpx.MockTransport(refuse_patches), base_url="http://customer.test"
    )
    app.state.sources = Sources(
        customers=_SplitClient(real.customers, feeds_only), orders=real.orders
    )
    try:
        refused = await scoring.run()
    finally:
        app.state.sources = real
    assert refused["status"] == "succeeded"
    assert refused["lifecycle_pushed"] == 0
    assert refused["lifecycle_push_failed"] == 3  # frequent, lapsed and once are no longer new
    assert await shop.stage(frequent) == "new"

    pushed = await scoring.run()
    assert pushed["lifecycle_pushed"] == 3
    assert pushed["lifecycle_push_failed"] == 0
    assert [await shop.stage(c) for c in (frequent, lapsed, new, once)] == [
        "active",
        "at_risk",
        "new",
        "churned",
    ]
    assert (await scoring.run())["lifecycle_pushed"] == 0


class _SplitClient(httpx.AsyncClient):
    """Reads go to the real service, lifecycle updates to a failing one."""

    def __init__(self, reads: httpx.AsyncClient, writes: httpx.AsyncClient) -> None:
        super().__init__()
        self.reads = reads
        self.writes = writes

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self.reads.stream(*args, **kwargs)

    async def patch(self, *args: Any, **kwargs: Any) -> httpx.Response:
        return await self.writes.patch(*args, **kwargs)


async def test_old_runs_lose_their_scores_but_keep_their_record_and_history(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    settings: Any,
    shop: Any,
    scoring: Any,
) -> None:
    await _small_shop(shop)
    runner: Runner = app.state.runner
    runner.settings = settings.model_copy(update={"runs_kept": 2})
    try:
        runs = [await scoring.run() for _ in range(3)]
    finally:
        runner.settings = settings
    oldest = (await client.get(f"/v1/runs/{runs[0]['id']}")).json()
    assert oldest["results_kept"] is False
    assert [
        (await client.get(f"/v1/runs/{run['id']}")).json()["results_kept"] for run in runs[1:]
    ] == [True, True]
    async with database.engine.connect() as db:
        kept = set((await db.execute(select(customer_scores.c.run_id).distinct())).scalars())
    assert kept == {uuid.UUID(run["id"]) for run in runs[1:]}
    history = (await client.get("/v1/segments/tier-high/history")).json()["items"]
    assert [item["run_id"] for item in history] == [run["id"] for run in reversed(runs)]
    page = (await client.get("/v1/runs", params={"limit": 2})).json()
    rest = (await client.get("/v1/runs", params={"cursor": page["next_cursor"]})).json()
    assert [run["id"] for run in page["items"] + rest["items"]] == [
        run["id"] for run in reversed(runs)
    ]


async def test_scheduled_runs_are_marked_as_such(
    app: FastAPI, client: httpx.AsyncClient, shop: Any
) -> None:
    await _small_shop(shop)
    outcome = await _scheduled_run(app)
    run = (await client.get("/v1/runs")).json()["items"][0]
    assert outcome == f"run {run['id']} done"
    assert (run["trigger"], run["status"]) == ("schedule", "succeeded")


async def test_unknown_runs_are_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/v1/runs/{uuid.uuid4()}"), 404, "run-not-found")
    assert_problem(await client.get("/v1/runs", params={"cursor": "nonsense"}), 400)
