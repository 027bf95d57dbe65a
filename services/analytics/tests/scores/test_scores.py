"""Score reads: one customer, filtered pages, and the dashboard summary."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from crm_shared.testing import assert_problem


async def _shop(shop: Any) -> list[str]:
    ids = []
    for number in range(6):
        customer_id = await shop.customer()
        for days in range(number % 3 + 1):
            await shop.order(
                customer_id,
                days_ago=5 + 30 * days + number,
                amount=f"{5 * (number + 1)}.00",
                paid=False,
            )
        ids.append(customer_id)
    return ids


async def test_before_any_run_there_is_nothing_to_read(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.get(f"/v1/customers/{uuid.uuid4()}/scores"), 404, "scores-not-found"
    )
    listed = await client.get("/v1/scores")
    assert listed.json() == {"items": [], "next_cursor": None}
    assert "x-run-id" not in listed.headers
    summary = (await client.get("/v1/scores/summary")).json()
    assert (summary["run_id"], summary["customers"], summary["rfm_grid"]) == (None, 0, [])


async def test_scores_list_pages_and_filters(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    ids = await _shop(shop)
    await scoring.run()
    first = (await client.get("/v1/scores", params={"limit": 4})).json()
    rest = (await client.get("/v1/scores", params={"cursor": first["next_cursor"]})).json()
    listed = [item["customer_id"] for item in first["items"] + rest["items"]]
    assert listed == sorted(ids)

    for tier in ("high", "medium", "low"):
        items = (await client.get("/v1/scores", params={"tier": tier})).json()["items"]
        assert {item["value_tier"] for item in items} <= {tier}
        members = (
            await client.get(f"/v1/segments/tier-{tier}/members", params={"consent": "any"})
        ).json()["items"]
        by_segment = (await client.get("/v1/scores", params={"segment": f"tier-{tier}"})).json()
        assert [item["customer_id"] for item in by_segment["items"]] == [
            member["customer_id"] for member in members
        ]
        assert [item["customer_id"] for item in items] == [m["customer_id"] for m in members]
    assert_problem(await client.get("/v1/scores", params={"segment": "nope"}), 404)
    assert_problem(await client.get("/v1/scores", params={"tier": "gold"}), 422)


async def test_summary_counts_segments_tiers_and_the_rfm_grid(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    ids = await _shop(shop)
    run = await scoring.run()
    response = await client.get("/v1/scores/summary")
    assert response.headers["x-run-id"] == run["id"]
    summary = response.json()
    scores = [(await client.get(f"/v1/customers/{c}/scores")).json() for c in ids]
    revenue = sum(score["monetary"] for score in scores)
    assert summary["customers"] == 6
    assert summary["revenue"] == revenue
    assert sum(group["customers"] for group in summary["segments"]) == 6
    assert sum(group["revenue"] for group in summary["tiers"]) == revenue
    assert sum(group["customers"] for group in summary["lifecycle_stages"]) == 6
    cells: dict[tuple[int, int], list[float]] = {}
    for score in scores:
        cells.setdefault((score["r_score"], score["f_score"]), []).append(score["monetary"])
    assert {
        (cell["r_score"], cell["f_score"]): (cell["customers"], cell["revenue"])
        for cell in summary["rfm_grid"]
    } == {key: (len(values), sum(values)) for key, values in cells.items()}
    assert {group["name"] for group in summary["segments"]} == {s["rfm_segment"] for s in scores}
