"""The scoring worker: the maths runs in a worker process, and the event loop stays free."""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from crm_analytics.runs.service import Runner, parameters_of
from crm_analytics.settings import AnalyticsSettings, ScoringWorker


async def test_scoring_runs_in_a_worker_process_while_the_loop_keeps_serving() -> None:
    settings = AnalyticsSettings(scoring_worker=ScoringWorker.process)
    runner = Runner(database=None, settings=settings, sources=lambda: None)  # type: ignore[arg-type]
    now = pd.Timestamp.now(tz="UTC")
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "c"],
            "order_id": ["1", "2", "3", "4", "5", "6"],
            "placed_at": [now - pd.Timedelta(days=d) for d in (3, 40, 10, 5, 60, 200)],
            "amount": [10.0, 20.0, 5.0, 7.0, 8.0, 9.0],
            "quantity": [1, 2, 1, 1, 1, 1],
        }
    )
    params = parameters_of(settings, dt.datetime.now(dt.UTC).date())
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        result = await runner.score_lines(lines, params)
        pool = runner._pool()
    finally:
        ticker.cancel()
        await runner.close()
    assert sorted(result.scores.index) == ["a", "b", "c"]
    assert result.scores.loc["c", "frequency"] == 3
    assert isinstance(pool, ProcessPoolExecutor)
    assert ticks > 0  # the loop ran while the worker scored
