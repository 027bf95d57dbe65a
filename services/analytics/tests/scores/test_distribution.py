"""Histograms of a score over the current run's customers."""

from __future__ import annotations

from typing import Any

import httpx

from crm_shared.testing import assert_problem

# Net revenue per customer: one order each, these amounts.
AMOUNTS = (10, 20, 25, 40, 80, 400)


async def _scored(shop: Any, scoring: Any) -> dict[str, Any]:
    for number, amount in enumerate(AMOUNTS):
        customer_id = await shop.customer()
        await shop.order(customer_id, days_ago=3 + number, amount=f"{amount}.00", paid=False)
    return await scoring.run()


def _expected(values: list[float], lower: float, upper: float, bins: int) -> list[int]:
    width = (upper - lower) / bins
    counts = [0] * bins
    for value in values:
        if lower <= value <= upper:
            counts[min(int((value - lower) // width), bins - 1)] += 1
    return counts


async def test_before_any_run_the_histogram_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/scores/distribution")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run_id"], body["customers"], body["bins"]) == (None, 0, [])


async def test_bins_count_the_customers_between_their_bounds(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    run = await _scored(shop, scoring)
    response = await client.get(
        "/v1/scores/distribution", params={"measure": "monetary", "bins": 4}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-run-id"] == run["id"]
    body = response.json()
    assert (body["customers"], body["missing"], body["above"]) == (6, 0, 0)
    assert (body["minimum"], body["maximum"]) == (10.0, 400.0)
    assert abs(body["mean"] - sum(AMOUNTS) / len(AMOUNTS)) < 1e-6
    assert [(b["lower"], b["upper"]) for b in body["bins"]] == [
        (10.0, 107.5),
        (107.5, 205.0),
        (205.0, 302.5),
        (302.5, 400.0),
    ]
    assert [b["customers"] for b in body["bins"]] == [5, 0, 0, 1]

    # A right end below the tail spreads the rest out and counts the tail apart.
    clipped = (
        await client.get(
            "/v1/scores/distribution", params={"measure": "monetary", "bins": 3, "upper": 40}
        )
    ).json()
    assert [b["customers"] for b in clipped["bins"]] == _expected(
        [float(a) for a in AMOUNTS], 10.0, 40.0, 3
    )
    assert [b["customers"] for b in clipped["bins"]] == [1, 2, 1]
    assert clipped["above"] == 2

    # Every measure counts every scored customer once, in a bin or as missing.
    scores = (await client.get("/v1/scores")).json()["items"]
    for measure in ("clv", "frequency", "recency_days", "value_score"):
        histogram = (
            await client.get("/v1/scores/distribution", params={"measure": measure, "bins": 5})
        ).json()
        values = [score[measure] for score in scores if score[measure] is not None]
        assert histogram["missing"] == len(scores) - len(values)
        assert sum(b["customers"] for b in histogram["bins"]) == len(values), measure
        if values and histogram["maximum"] > histogram["minimum"]:
            assert [b["customers"] for b in histogram["bins"]] == _expected(
                values, histogram["minimum"], histogram["maximum"], 5
            ), measure


async def test_bad_parameters_are_refused(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    await _scored(shop, scoring)
    assert_problem(
        await client.get("/v1/scores/distribution", params={"measure": "monetary", "upper": 5}),
        422,
        "invalid-range",
    )
    for params in ({"measure": "email"}, {"bins": 0}, {"bins": 201}, {"upper": "inf"}):
        assert_problem(await client.get("/v1/scores/distribution", params=params), 422)
