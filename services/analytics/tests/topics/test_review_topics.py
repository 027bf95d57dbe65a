"""Review topics over HTTP: reviews and tickets go in through the real source services,
a scoring run computes the topics, the insights API reads them; erasure removes text."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from crm_analytics.sync.service import sync_all
from crm_analytics.topics.models import feedback_tickets, reviews
from crm_shared.db import Database
from crm_shared.testing import assert_problem

NOW = dt.datetime.now(dt.UTC)
KETTLE_WORDS = ["limescale", "whistle", "spout", "boils"]
JACKET_WORDS = ["zipper", "waterproof", "hood", "sleeves"]
LATE = "The courier was late, parcel tracking never updated, delivery arrived days late"
CHARGED = "I was charged twice on my card, please refund the double payment"
PRAISE = "Lovely gift packaging with ribbon, beautifully wrapped present"


async def _product(shop: Any, sku: str) -> str:
    response = await shop.orders.post(
        "/v1/products", json={"sku": sku, "name": sku.title(), "price": "20.00", "currency": "EUR"}
    )
    assert response.status_code == 201, response.text
    product_id: str = response.json()["id"]
    return product_id


async def _interactions(shop: Any, events: list[dict[str, Any]]) -> None:
    body = b"\n".join(orjson.dumps(event) for event in events)
    response = await shop.orders.post(
        "/v1/interactions/batch", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == len(events), response.text


def _review(customer: str | None, product: str, rating: int, text: str | None, days_ago: float):
    event: dict[str, Any] = {
        "kind": "review" if text is not None else "rating",
        "product_id": product,
        "rating": rating,
        "occurred_at": (NOW - dt.timedelta(days=days_ago)).isoformat(),
    }
    if customer is None:
        event["session_id"] = "anonymous-session"
    else:
        event["customer_id"] = customer
    if text is not None:
        event["review_text"] = text
    return event


async def _ticket(shop: Any, customer: str, kind: str, subject: str, body: str) -> str:
    response = await shop.customers.post(
        "/v1/tickets",
        json={"customer_id": customer, "kind": kind, "subject": subject, "body": body},
    )
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["id"]
    return ticket_id


class Planted:
    def __init__(self) -> None:
        self.kettle_reviewers: list[str] = []
        self.jacket_reviewers: list[str] = []
        self.tickets: dict[str, list[str]] = {"late": [], "charged": [], "praise": []}
        self.kettle = ""
        self.jacket = ""


@pytest.fixture
async def planted(shop: Any) -> Planted:
    """Kettle reviewers buy little and rate it better month by month; jacket reviewers buy
    a lot. Three themes of tickets: late parcels and double charges (complaints), gift
    packaging (feedback), plus an inquiry and a page view that the topics ignore."""
    found = Planted()
    found.kettle, found.jacket = await _product(shop, "KETTLE"), await _product(shop, "JACKET")
    events: list[dict[str, Any]] = []
    for i in range(4):
        customer = await shop.customer()
        await shop.order(customer, days_ago=10 + i, amount="10.00")
        found.kettle_reviewers.append(customer)
        words = " ".join(KETTLE_WORDS[j % 4] for j in range(i, i + 3))
        for rating, days_ago in ((2, 100), (3, 70), (4, 40), (5, 5)):
            events.append(_review(customer, found.kettle, rating, f"It {words}.", days_ago))
    for i in range(3):
        customer = await shop.customer()
        await shop.order(customer, days_ago=5 + i, amount="500.00")
        found.jacket_reviewers.append(customer)
        words = " ".join(JACKET_WORDS[j % 4] for j in range(i, i + 3))
        events.append(_review(customer, found.jacket, 4, f"This is {words}.", 12))
    events.append(_review(None, found.jacket, 3, None, 12))
    events.append(
        {
            "kind": "view",
            "customer_id": found.kettle_reviewers[0],
            "product_id": found.kettle,
            "occurred_at": (NOW - dt.timedelta(days=1)).isoformat(),
        }
    )
    await _interactions(shop, events)
    themes = (("late", "complaint", LATE), ("charged", "complaint", CHARGED))
    for theme, kind, text in (*themes, ("praise", "feedback", PRAISE)):
        for i, customer in enumerate(found.kettle_reviewers[:3]):
            ticket = await _ticket(shop, customer, kind, f"{theme} {i}", text)
            found.tickets[theme].append(ticket)
    await _ticket(shop, found.jacket_reviewers[0], "inquiry", "Sizes?", "Which size fits me?")
    return found


async def test_product_keywords_and_a_rising_rating_trend(
    client: httpx.AsyncClient, planted: Planted, scoring: Any
) -> None:
    run = await scoring.run()
    assert run["fit"]["topics"]["reviews"] == 19
    response = await client.get(f"/v1/insights/products/{planted.kettle}/reviews")
    assert response.status_code == 200, response.text
    assert response.headers["x-run-id"] == run["id"]
    kettle = response.json()
    assert (kettle["reviews"], kettle["ratings"]) == (16, 16)
    assert kettle["average_rating"] == 3.5
    assert {keyword["term"] for keyword in kettle["keywords"][:4]} == set(KETTLE_WORDS)
    trend = kettle["trend"]
    assert trend["direction"] == "rising"
    assert trend["slope_per_month"] > 0
    assert sum(month["ratings"] for month in trend["months"]) == 16
    averages = [month["average_rating"] for month in trend["months"]]
    assert averages == sorted(averages)
    assert averages[0] < averages[-1]

    jacket = (await client.get(f"/v1/insights/products/{planted.jacket}/reviews")).json()
    assert (jacket["reviews"], jacket["ratings"]) == (3, 4)  # the anonymous rating counts
    assert {keyword["term"] for keyword in jacket["keywords"][:4]} == set(JACKET_WORDS)
    assert jacket["trend"]["direction"] == "unknown"  # one month of ratings: no slope
    assert jacket["trend"]["slope_per_month"] is None

    unknown = await client.get(f"/v1/insights/products/{uuid.uuid4()}/reviews")
    assert_problem(unknown, 404, "product-reviews-not-found")
    assert_problem(await client.get("/v1/insights/products/not-a-uuid/reviews"), 422)


async def test_segment_keywords_come_from_the_members_reviews(
    client: httpx.AsyncClient, planted: Planted, scoring: Any
) -> None:
    response = await client.post("/v1/segments", json={"name": "Big", "rule": "monetary >= 100"})
    assert response.status_code == 201, response.text
    big = response.json()["id"]
    await scoring.run()

    found = await client.get(f"/v1/insights/segments/{big}/review-keywords")
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["reviews"], body["reviewers"]) == (3, 3)
    terms = [keyword["term"] for keyword in body["keywords"]]
    assert set(terms[:4]) == set(JACKET_WORDS)
    assert not set(terms) & set(KETTLE_WORDS)

    assert_problem(
        await client.get("/v1/insights/segments/no-such-segment/review-keywords"),
        404,
        "segment-not-found",
    )


async def test_similar_tickets_are_grouped_by_kind(
    client: httpx.AsyncClient, planted: Planted, scoring: Any
) -> None:
    run = await scoring.run()
    response = await client.get("/v1/insights/ticket-groups")
    assert response.status_code == 200, response.text
    assert response.headers["x-run-id"] == run["id"]
    groups = response.json()["items"]
    assert len(groups) == 3
    assert [group["id"] for group in groups] == [1, 2, 3]
    members = {
        theme: set(tickets) for theme, tickets in planted.tickets.items()
    }  # each group holds exactly one theme
    for group in groups:
        assert group["size"] == 3
        theme = next(t for t, ids in members.items() if group["example_ticket_ids"][0] in ids)
        assert set(group["example_ticket_ids"]) == members[theme]
        assert group["kind"] == ("feedback" if theme == "praise" else "complaint")
    complaint_terms = {
        keyword["term"]
        for group in groups
        if group["kind"] == "complaint"
        for keyword in group["keywords"]
    }
    assert {"courier", "refund"} <= complaint_terms

    complaints = (await client.get("/v1/insights/ticket-groups?kind=complaint")).json()["items"]
    assert [group["kind"] for group in complaints] == ["complaint", "complaint"]
    first = (await client.get("/v1/insights/ticket-groups?limit=2")).json()
    second = (
        await client.get("/v1/insights/ticket-groups", params={"cursor": first["next_cursor"]})
    ).json()
    assert [group["id"] for group in first["items"] + second["items"]] == [1, 2, 3]
    assert second["next_cursor"] is None
    assert_problem(await client.get("/v1/insights/ticket-groups?kind=inquiry"), 422)
    assert_problem(await client.get("/v1/insights/ticket-groups?cursor=bogus"), 400)


async def test_before_the_first_run_there_is_nothing_to_read(
    client: httpx.AsyncClient, shop: Any
) -> None:
    assert_problem(
        await client.get(f"/v1/insights/products/{uuid.uuid4()}/reviews"),
        404,
        "product-reviews-not-found",
    )
    assert_problem(
        await client.get("/v1/insights/segments/tier-high/review-keywords"),
        404,
        "review-keywords-not-found",
    )
    empty = await client.get("/v1/insights/ticket-groups")
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_an_erased_customer_s_text_leaves_the_copy_and_the_outputs(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    planted: Planted,
    shop: Any,
    scoring: Any,
) -> None:
    erased = planted.kettle_reviewers[0]
    await _interactions(
        shop, [_review(erased, planted.kettle, 5, "Wilhelmina loves this kettle", 2)]
    )
    big = await client.post("/v1/segments", json={"name": "All", "rule": "monetary > 0"})
    assert big.status_code == 201, big.text
    await scoring.run()
    before = (await client.get(f"/v1/insights/products/{planted.kettle}/reviews")).json()
    assert before["reviews"] == 17
    assert len((await client.get("/v1/insights/ticket-groups")).json()["items"]) == 3

    await shop.erase(erased)
    report = await sync_all(database, app.state.sources, batch_lines=50)
    assert all(feed.ok for feed in report.feeds), report
    async with database.engine.connect() as db:
        copied = (await db.execute(select(reviews.c.customer_id))).scalars().all()
        tickets = (await db.execute(select(feedback_tickets.c.customer_id))).scalars().all()
    assert uuid.UUID(erased) not in copied
    assert uuid.UUID(erased) not in tickets
    assert len(tickets) == 6  # the other two reviewers' three tickets each

    # Until the next run, every output their text went into is withdrawn.
    withdrawn = (await client.get(f"/v1/insights/products/{planted.kettle}/reviews")).json()
    assert withdrawn["keywords"] == []
    assert withdrawn["trend"] == before["trend"]
    assert (await client.get("/v1/insights/ticket-groups")).json()["items"] == []
    segment = (await client.get(f"/v1/insights/segments/{big.json()['id']}/review-keywords")).json()
    assert segment["keywords"] == []

    await scoring.run()
    after = (await client.get(f"/v1/insights/products/{planted.kettle}/reviews")).json()
    assert after["reviews"] == 12
    assert "wilhelmina" not in {keyword["term"] for keyword in after["keywords"]}
    assert {keyword["term"] for keyword in after["keywords"][:4]} == set(KETTLE_WORDS)
    groups = (await client.get("/v1/insights/ticket-groups")).json()["items"]
    assert [group["size"] for group in groups] == [2, 2, 2]
    listed = {ticket for group in groups for ticket in group["example_ticket_ids"]}
    assert not listed & {tickets_of[0] for tickets_of in planted.tickets.values()}

    # A review of the erased customer that reaches the copy late is not kept either.
    await _interactions(shop, [_review(erased, planted.jacket, 1, "Wilhelmina again", 1)])
    await sync_all(database, app.state.sources, batch_lines=50)
    async with database.engine.connect() as db:
        copied = (await db.execute(select(reviews.c.customer_id))).scalars().all()
    assert uuid.UUID(erased) not in copied
