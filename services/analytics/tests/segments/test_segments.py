"""Segments over HTTP: built-in and custom, rule errors, members, CSV exports, history."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from crm_shared.testing import assert_problem

RFM_IDS = {
    "rfm-champions",
    "rfm-loyal",
    "rfm-potential-loyalist",
    "rfm-new-customers",
    "rfm-promising",
    "rfm-need-attention",
    "rfm-about-to-sleep",
    "rfm-at-risk",
    "rfm-cant-lose-them",
    "rfm-hibernating",
    "rfm-lost",
}
TIER_IDS = {"tier-high", "tier-medium", "tier-low"}
CHURN_IDS = {"churn-high", "churn-medium", "churn-low"}


async def _buyers(shop: Any, count: int, **fields: Any) -> list[str]:
    """`count` customers with one order each, bigger spenders later."""
    ids = []
    for number in range(count):
        customer_id = await shop.customer(**fields)
        await shop.order(
            customer_id, days_ago=10 + number, amount=f"{10 * (number + 1)}.00", paid=False
        )
        ids.append(customer_id)
    return ids


async def test_built_in_segments_are_listed_with_their_size(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    before = (await client.get("/v1/segments", params={"limit": 100})).json()["items"]
    assert {item["id"] for item in before} == RFM_IDS | TIER_IDS | CHURN_IDS
    assert all(item["size"] is None for item in before)

    await _buyers(shop, 5)
    run = await scoring.run()
    response = await client.get("/v1/segments", params={"limit": 100})
    assert response.headers["x-run-id"] == run["id"]
    items = {item["id"]: item for item in response.json()["items"]}
    assert sum(items[segment]["size"] for segment in RFM_IDS) == 5
    assert sum(items[f"tier-{tier}"]["size"] for tier in ("high", "medium", "low")) == 5
    assert sum(items[f"tier-{tier}"]["revenue"] for tier in ("high", "medium", "low")) == 150.0
    assert items["rfm-cant-lose-them"]["rule"] == 'rfm_segment = "Can\'t Lose Them"'

    first = (await client.get("/v1/segments", params={"limit": 10})).json()
    rest = (await client.get("/v1/segments", params={"cursor": first["next_cursor"]})).json()
    # A shop this small has no churn model and no clusters: those segments stay empty.
    assert all(items[segment]["size"] == 0 for segment in CHURN_IDS)
    assert not any(segment.startswith("cluster-") for segment in items)
    assert len(first["items"]) + len(rest["items"]) == 17
    assert rest["next_cursor"] is None


async def test_custom_segment_crud_and_members_in_the_current_run(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    germans = await _buyers(shop, 3, address={"country": "DE"})
    others = await _buyers(shop, 2, address={"country": "FR"})
    await scoring.run()

    created = await client.post(
        "/v1/segments",
        json={"name": "Germans", "description": "DE buyers", "rule": 'country = "DE"'},
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert (segment["kind"], segment["size"]) == ("custom", 3)
    members = (await client.get(f"/v1/segments/{segment['id']}/members")).json()["items"]
    assert sorted(member["customer_id"] for member in members) == sorted(germans)

    changed = await client.patch(
        f"/v1/segments/{segment['id']}", json={"rule": 'country = "DE" and monetary >= 20'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["size"] == 2
    assert (await client.get(f"/v1/segments/{segment['id']}")).json()["rule"].endswith(">= 20")

    wide = await client.post(
        "/v1/segments", json={"name": "Not German", "rule": 'not country = "DE"'}
    )
    assert wide.json()["size"] == len(others)
    assert_problem(
        await client.post("/v1/segments", json={"name": "germans", "rule": "clv > 1"}),
        409,
        "segment-exists",
    )
    assert_problem(
        await client.patch("/v1/segments/tier-high", json={"name": "Whales"}),
        409,
        "built-in-segment",
    )
    assert_problem(await client.delete("/v1/segments/rfm-lost"), 409, "built-in-segment")

    assert (await client.delete(f"/v1/segments/{segment['id']}")).status_code == 204
    assert_problem(await client.get(f"/v1/segments/{segment['id']}"), 404, "segment-not-found")
    assert_problem(await client.get("/v1/segments/no-such-segment"), 404, "segment-not-found")
    assert_problem(await client.get(f"/v1/segments/{uuid.uuid4()}/members"), 404)


async def test_a_custom_segment_is_evaluated_by_each_new_run(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    segment = (
        await client.post("/v1/segments", json={"name": "Big", "rule": "monetary > 25"})
    ).json()
    assert segment["size"] is None  # no run yet
    first_buyers = await _buyers(shop, 3)
    first = await scoring.run()
    await shop.order(first_buyers[0], days_ago=1, amount="100.00", paid=False)
    second = await scoring.run()

    assert (await client.get(f"/v1/segments/{segment['id']}")).json()["size"] == 2
    history = (await client.get(f"/v1/segments/{segment['id']}/history")).json()
    assert [(item["run_id"], item["customers"]) for item in history["items"]] == [
        (second["id"], 2),
        (first["id"], 1),
    ]
    assert history["items"][0]["revenue"] == 140.0
    page = (await client.get(f"/v1/segments/{segment['id']}/history", params={"limit": 1})).json()
    assert [item["run_id"] for item in page["items"]] == [second["id"]]
    tail = await client.get(
        f"/v1/segments/{segment['id']}/history", params={"cursor": page["next_cursor"]}
    )
    assert [item["run_id"] for item in tail.json()["items"]] == [first["id"]]


async def test_invalid_rules_are_422_pointing_at_the_bad_part(client: httpx.AsyncClient) -> None:
    rule = 'rfm_segment in ["At Risk"] and revenue > 100'
    problem = assert_problem(
        await client.post("/v1/segments", json={"name": "Bad", "rule": rule}),
        422,
        "invalid-segment-rule",
    )
    assert problem["position"] == rule.index("revenue")
    assert "unknown field 'revenue'" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.rule"

    problem = assert_problem(
        await client.post("/v1/segments", json={"name": "Bad", "rule": 'rfm_segment = "Champs"'}),
        422,
    )
    assert problem["position"] == 14
    assert "Champions" in problem["detail"]
    assert_problem(await client.post("/v1/segments", json={"name": "Bad", "rule": ""}), 422)
    assert_problem(
        await client.post("/v1/segments", json={"name": "Bad", "rule": "clv > 1", "x": 1}), 422
    )
    assert (await client.get("/v1/segments", params={"limit": 100})).json()["items"][-1][
        "kind"
    ] != "custom"


async def test_quotes_and_sql_in_values_stay_values(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    tricky = "O'Brien\"; DROP TABLE customers; --"
    await _buyers(shop, 1, address={"city": tricky})
    await _buyers(shop, 2, address={"city": "Paris"})
    await scoring.run()
    escaped = tricky.replace('"', '\\"')
    rule = f"city = \"{escaped}\" or city = \"x' OR '1'='1\""
    created = await client.post("/v1/segments", json={"name": "Tricky", "rule": rule})
    assert created.status_code == 201, created.text
    assert created.json()["size"] == 1
    assert (await client.get("/v1/scores")).json()["items"].__len__() == 3


async def test_members_page_by_customer_id_with_consent_filters(
    client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    consenting = await _buyers(shop, 5)
    silent = await _buyers(shop, 2, consent_email=False)
    await shop.consent(silent[0], "sms", True)
    await scoring.run()
    segment = (
        await client.post("/v1/segments", json={"name": "All", "rule": "frequency >= 1"})
    ).json()
    url = f"/v1/segments/{segment['id']}/members"

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params)).json()
        seen.extend(member["customer_id"] for member in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(consenting)
    assert pages == 3

    everyone = (await client.get(url, params={"consent": "any", "limit": 100})).json()["items"]
    assert sorted(member["customer_id"] for member in everyone) == sorted(consenting + silent)
    sms = (await client.get(url, params={"channel": "sms"})).json()["items"]
    assert [member["customer_id"] for member in sms] == [silent[0]]
    assert sms[0]["consent_sms"] is True
    assert sms[0]["email"].endswith("@example.com")
    assert_problem(await client.get(url, params={"cursor": "garbage"}), 400, "invalid-cursor")
    assert_problem(await client.get(url, params={"channel": "fax"}), 422)


async def test_members_csv_streams_consenting_members_without_erased_customers(
    app: FastAPI, client: httpx.AsyncClient, shop: Any, scoring: Any
) -> None:
    consenting = await _buyers(shop, 4)
    silent = await _buyers(shop, 1, consent_email=False)
    formula = await shop.customer(first_name="=HYPERLINK(1)")
    await shop.order(formula, days_ago=3, paid=False)
    await scoring.run()
    await shop.erase(consenting[0])
    await scoring.run()

    segment = (
        await client.post("/v1/segments", json={"name": "All", "rule": "frequency >= 1"})
    ).json()
    url = f"/v1/segments/{segment['id']}/members.csv"
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "x-data-staleness-seconds" in response.headers
        chunks = [chunk async for chunk in response.aiter_bytes()]
    consenting_rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    everyone = list(
        csv.DictReader(io.StringIO((await client.get(url, params={"consent": "any"})).text))
    )

    assert {row["customer_id"] for row in everyone} == {*consenting[1:], *silent, formula}
    assert sorted(row["customer_id"] for row in consenting_rows) == sorted(
        [*consenting[1:], formula]
    )
    assert {row["consent_email"] for row in consenting_rows} == {"true"}
    for row in everyone:  # amounts to the cent, as a spreadsheet expects them
        for amount in ("monetary", "clv"):
            assert row[amount] == f"{float(row[amount]):.2f}", row
    tier_rows = []
    for tier in ("low", "medium", "high"):
        body = (await client.get(f"/v1/segments/tier-{tier}/members.csv")).text
        tier_rows.extend(csv.DictReader(io.StringIO(body)))
    assert sorted(row["customer_id"] for row in tier_rows) == sorted(
        row["customer_id"] for row in consenting_rows
    )
    assert list(everyone[0]) == [
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "country",
        "consent_email",
        "consent_sms",
        "rfm_segment",
        "value_tier",
        "lifecycle_stage",
        "frequency",
        "monetary",
        "clv",
        "last_purchase_at",
    ]
    (formula_row,) = [row for row in everyone if row["customer_id"] == formula]
    assert formula_row["first_name"] == "'=HYPERLINK(1)"
    assert_problem(await client.get("/v1/segments/nope/members.csv"), 404)
    erased_scores = await client.get(f"/v1/customers/{consenting[0]}/scores")
    assert_problem(erased_scores, 404)
