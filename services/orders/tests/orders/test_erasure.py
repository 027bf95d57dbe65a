"""Erasures from the customer feed: an erased customer's review text and session ids go
from the orders service's interactions and their feed; their orders stay."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from crm_orders.database import CUSTOMER_FEED, sync_cursors
from crm_orders.erasure.service import REDACTED, ErasureSync, sync_erasures
from crm_orders.main import create_app, follow_erasures
from crm_orders.settings import OrdersSettings
from crm_shared.db import Database
from crm_shared.http import service_client
from crm_shared.sync import FeedUnavailable
from crm_shared.testing import TEST_SERVICE_TOKEN, free_port, running_app

Factory = Callable[..., Awaitable[dict[str, Any]]]
NewCustomer = Callable[[], Awaitable[str]]
AN_HOUR_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()


async def _sync(app: FastAPI) -> ErasureSync:
    return await sync_erasures(app.state.database, app.state.customers.client)


async def _erase(customer_api: httpx.AsyncClient, customer_id: str) -> None:
    response = await customer_api.post(
        f"/v1/customers/{customer_id}/erase",
        json={"reason": "GDPR art. 17 request #17", "requested_by": "privacy desk"},
    )
    assert response.status_code == 200, response.text


async def _event(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/interactions", json={"occurred_at": AN_HOUR_AGO, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _review(
    client: httpx.AsyncClient, customer_id: str, product_id: str, text: str, session: str
) -> dict[str, Any]:
    return await _event(
        client,
        kind="review",
        customer_id=customer_id,
        product_id=product_id,
        rating=4,
        review_text=text,
        session_id=session,
    )


async def _feed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/export/interactions", params={"cursor": 0})
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines() if line]


async def _interactions(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/customers/{customer_id}/interactions")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_erased_customers_review_text_and_sessions_go_everywhere(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    customer_api: httpx.AsyncClient,
    new_customer: NewCustomer,
    new_product: Factory,
    place_order: Factory,
) -> None:
    product = await new_product()
    erased, kept = await new_customer(), await new_customer()
    secret = "Arrived in Leeds for Anna Wójcik, flat 4, thank you"
    await _review(client, erased, product["id"], secret, "sess-anna-1")
    await _event(
        client, kind="view", customer_id=erased, product_id=product["id"], session_id="sess-anna-2"
    )
    await _event(client, kind="view", customer_id=erased, product_id=product["id"])
    await _review(client, kept, product["id"], "Solid and warm", "sess-kept")
    order = await place_order(erased, product)
    assert secret.encode() in (await client.get("/v1/export/interactions")).content

    await _erase(customer_api, erased)
    first = await _sync(app)
    assert first.erased >= 1
    # The review and the view with a session; the view without one has nothing to redact.
    assert first.redacted == 2

    theirs = await _interactions(client, erased)
    assert len(theirs) == 3
    assert all(item["session_id"] is None for item in theirs)
    assert [item["review_text"] for item in theirs if item["kind"] == "review"] == [REDACTED]
    reviews = (await client.get(f"/v1/products/{product['id']}/reviews")).json()["items"]
    assert sorted(review["text"] for review in reviews) == sorted([REDACTED, "Solid and warm"])
    others = await _interactions(client, kept)
    assert [(item["review_text"], item["session_id"]) for item in others] == [
        ("Solid and warm", "sess-kept")
    ]

    # A reader starting from the beginning gets each interaction once, redacted.
    feed = await _feed(client)
    assert len(feed) == 4
    text = orjson.dumps(feed).decode()
    for personal in (secret, "sess-anna-1", "sess-anna-2"):
        assert personal not in text
    assert "Solid and warm" in text
    assert "sess-kept" in text
    # The redacted ones moved to the end of the feed, where a follower picks them up.
    assert [line["customer_id"] for line in feed[-2:]] == [erased, erased]

    # The order, the shop's accounting record, keeps the customer and its amounts.
    kept_order = (await client.get(f"/v1/orders/{order['id']}")).json()
    assert kept_order["customer_id"] == erased
    assert kept_order["total"] == order["total"]

    # Replaying changes nothing: once more, and from the feed's beginning.
    assert (await _sync(app)).redacted == 0
    async with database.writer() as db:
        await db.execute(delete(sync_cursors))
    replay = await _sync(app)
    assert replay.erased >= 1
    assert replay.redacted == 0
    assert await _feed(client) == feed


async def test_events_of_an_erased_customer_are_stored_without_their_text(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    customer_api: httpx.AsyncClient,
    new_customer: NewCustomer,
    new_product: Factory,
) -> None:
    product = await new_product()
    erased, kept = await new_customer(), await new_customer()
    await _erase(customer_api, erased)
    assert (await _sync(app)).redacted == 0

    late = await _review(client, erased, product["id"], "Late words of Anna", "sess-late")
    assert (late["review_text"], late["session_id"]) == (REDACTED, None)
    batch = b"\n".join(
        orjson.dumps(
            {
                "kind": "review",
                "customer_id": customer,
                "sku": product["sku"],
                "rating": 5,
                "review_text": f"Batch words of {customer}",
                "session_id": f"sess-{customer}",
                "occurred_at": AN_HOUR_AGO,
            }
        )
        for customer in (erased, kept)
    )
    response = await client.post(
        "/v1/interactions/batch",
        content=batch,
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 2

    text = orjson.dumps(await _feed(client)).decode()
    for personal in ("Late words of Anna", "sess-late"):
        assert personal not in text
    assert f"Batch words of {erased}" not in text
    assert f"sess-{erased}" not in text
    assert f"Batch words of {kept}" in text
    assert f"sess-{kept}" in text
    assert {item["review_text"] for item in await _interactions(client, erased)} == {REDACTED}
    # Already redacted: the next pass has nothing to do.
    assert (await _sync(app)).redacted == 0


async def test_a_customer_service_that_is_down_leaves_the_schedule_running(
    settings: OrdersSettings, database: Database
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    async with service_client(down, TEST_SERVICE_TOKEN) as customers:
        with pytest.raises(FeedUnavailable):
            await sync_erasures(database, customers)

    unreachable = settings.model_copy(
        update={"customer_url": down, "erasure_sync_interval_seconds": 0.05}
    )
    application = create_app(unreachable)
    async with running_app(application):
        # The job reports the failure as its outcome instead of raising it.
        outcome = await follow_erasures(application)
        assert "customer feed unavailable" in str(outcome)
        attempts: set[dt.datetime] = set()
        for _ in range(200):
            async with database.engine.connect() as db:
                row = (
                    await db.execute(
                        select(sync_cursors).where(sync_cursors.c.feed == CUSTOMER_FEED)
                    )
                ).one_or_none()
            if row is not None and row.attempted_at is not None:
                assert row.last_error
                assert row.synced_at is None
                attempts.add(row.attempted_at)
            if len(attempts) >= 3:
                break
            await asyncio.sleep(0.05)
        # Pass after pass failed and the schedule went on: the service still answers.
        assert len(attempts) >= 3
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://orders"
        ) as http:
            assert (await http.get("/health")).status_code == 200
