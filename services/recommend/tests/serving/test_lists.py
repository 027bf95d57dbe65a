"""What the storefront gets: filtered, explained lists, and popular items instead of errors."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from crm_shared.testing import assert_problem


def _ids(body: dict[str, Any], source: str | None = None) -> list[str]:
    return [
        item["product_id"] for item in body["items"] if source is None or item["source"] == source
    ]


async def test_never_what_the_customer_bought(shop: Any, planted: Any) -> None:
    await shop.train()
    customer = planted.kitchen_fans[0]

    body = await shop.recommendations(customer, limit=8)

    bought = set(planted.kitchen[0:2])
    assert not bought & set(_ids(body))
    # A purchase after training is excluded too, once synced.
    await shop.order(customer, planted.kitchen[3])
    await shop.sync()
    body = await shop.recommendations(customer, limit=8)
    assert planted.kitchen[3] not in _ids(body)


async def test_only_active_in_stock_products(shop: Any, planted: Any) -> None:
    await shop.train()
    await shop.update_product(planted.kitchen[1], active=False)
    await shop.update_product(planted.kitchen[2], in_stock=False)
    await shop.sync()

    body = await shop.recommendations(planted.newcomer, limit=8)

    assert planted.kitchen[1] not in _ids(body)
    assert planted.kitchen[2] not in _ids(body)
    assert planted.kitchen[3] in _ids(body)


async def test_exclude_and_category_filters(shop: Any, planted: Any) -> None:
    await shop.train()

    excluded = await shop.recommend.get(
        f"/v1/recommendations/{planted.newcomer}",
        params=[("exclude", planted.kitchen[1]), ("exclude", planted.kitchen[2]), ("limit", 8)],
    )
    garden = await shop.recommendations(planted.newcomer, category="Garden", limit=8)

    assert excluded.status_code == 200
    assert not {planted.kitchen[1], planted.kitchen[2]} & set(_ids(excluded.json()))
    assert garden["items"]
    assert set(_ids(garden)) <= set(planted.garden)


async def test_each_item_says_why(shop: Any, planted: Any) -> None:
    await shop.train()

    body = await shop.recommendations(planted.newcomer, limit=8)

    personal = [item for item in body["items"] if item["source"] == "personal"]
    assert personal
    explained = [item for item in personal if item["because_of"]]
    assert explained
    for item in explained:
        assert item["because_of"] == planted.kitchen[0]
        assert item["reason"].startswith("because you bought Product")
    popular = [item for item in body["items"] if item["source"] == "popular"]
    for item in popular:
        assert item["reason"].startswith("popular in ")


async def test_pages_do_not_overlap(shop: Any, planted: Any) -> None:
    await shop.train()

    first = await shop.recommendations(planted.newcomer, limit=3)
    second = await shop.recommendations(planted.newcomer, limit=3, offset=3)

    assert len(first["items"]) == 3
    assert not set(_ids(first)) & set(_ids(second))


async def test_unknown_or_anonymous_customers_get_popular_products(shop: Any, planted: Any) -> None:
    await shop.train()

    for customer in (str(uuid.uuid4()), "anonymous"):
        body = await shop.recommendations(customer, limit=4)
        assert body["fallback"] is True
        assert len(body["items"]) == 4
        assert {item["source"] for item in body["items"]} == {"popular"}


async def test_erased_customer_gets_no_personal_list(
    shop: Any, planted: Any, model_dir: Path
) -> None:
    run = await shop.train()
    customer = planted.kitchen_fans[0]
    assert (await shop.recommendations(customer))["fallback"] is False

    response = await shop.customers.post(
        f"/v1/customers/{customer}/erase", json={"reason": "GDPR request", "requested_by": "dpo"}
    )
    assert response.status_code == 200
    await shop.sync()

    assert (await shop.recommendations(customer))["fallback"] is True
    stored = np.load(model_dir / f"{run['version']:06d}" / "customers.npy")
    assert customer not in stored.tolist()
    assert planted.kitchen_fans[1] in stored.tolist()


async def test_similar_products(shop: Any, planted: Any) -> None:
    await shop.train()

    response = await shop.recommend.get(f"/v1/products/{planted.garden[0]}/similar")

    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is False
    similar = _ids(body, "similar")
    assert similar
    assert planted.garden[0] not in _ids(body)
    assert set(similar) <= set(planted.garden)
    assert body["items"][0]["reason"].startswith("similar to Product")


async def test_similar_to_an_unknown_product_is_popular_not_an_error(
    shop: Any, planted: Any
) -> None:
    response = await shop.recommend.get(f"/v1/products/{uuid.uuid4()}/similar")

    assert response.status_code == 200
    assert response.json()["fallback"] is True
    assert response.json()["items"]


async def test_popular_products_overall_and_per_category(shop: Any, planted: Any) -> None:
    await shop.train()

    overall = (await shop.recommend.get("/v1/products/popular", params={"limit": 8})).json()
    garden = (
        await shop.recommend.get("/v1/products/popular", params={"category": "garden/tools"})
    ).json()

    assert len(overall["items"]) == 8
    assert set(_ids(garden)) == set(planted.garden)
    scores = [item["score"] for item in overall["items"]]
    assert scores == sorted(scores, reverse=True)


async def test_popular_before_any_model(shop: Any, planted: Any) -> None:
    body = (await shop.recommend.get("/v1/products/popular", params={"limit": 1})).json()

    assert body["model_version"] is None
    # kitchen[0] is bought by the newcomer and by two kitchen fans: the most of any.
    assert _ids(body) == [planted.kitchen[0]]


async def test_session_recommends_like_recent_views(shop: Any, planted: Any) -> None:
    await shop.train()

    response = await shop.recommend.post(
        "/v1/recommendations/session", json={"product_ids": [planted.garden[0]], "limit": 3}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is False
    assert set(_ids(body, "similar")) <= set(planted.garden[1:])
    assert body["items"][0]["reason"].startswith("because you viewed")
    assert body["items"][0]["because_of"] == planted.garden[0]


async def test_session_without_views_falls_back_to_popular(shop: Any, planted: Any) -> None:
    response = await shop.recommend.post("/v1/recommendations/session", json={"limit": 2})

    assert response.status_code == 200
    assert response.json()["fallback"] is True
    assert len(response.json()["items"]) == 2


async def test_batch_streams_one_line_per_customer(shop: Any, planted: Any) -> None:
    await shop.train()
    customers = [*planted.kitchen_fans, "unknown", planted.newcomer]

    async with shop.recommend.stream(
        "POST", "/v1/recommendations:batch", json={"customer_ids": customers, "limit": 2}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) async for line in response.aiter_lines() if line]

    assert [line["customer_id"] for line in lines] == customers
    assert all(len(line["items"]) == 2 for line in lines)
    assert [line["fallback"] for line in lines] == [False] * 5 + [True, False]


async def test_batch_size_is_bounded(shop: Any) -> None:
    response = await shop.recommend.post(
        "/v1/recommendations:batch", json={"customer_ids": ["x"] * 10_001}
    )
    assert_problem(response, 422)


async def test_malformed_parameters_are_422_problems(client: Any) -> None:
    response = await client.get("/v1/recommendations/anonymous", params={"limit": 0})
    problem = assert_problem(response, 422, "validation-error")
    assert [error["field"] for error in problem["errors"]] == ["query.limit"]
    response = await client.get("/v1/products/popular", params={"exclude": "not-an-id"})
    assert_problem(response, 422, "validation-error")
    response = await client.get("/v1/products/not-an-id/similar")
    problem = assert_problem(response, 422, "validation-error")
    assert [error["field"] for error in problem["errors"]] == ["path.product_id"]


async def test_the_hot_path_answers_as_the_route_does(shop: Any, planted: Any) -> None:
    """Plain list calls are answered before the router; the route behind it gives the
    same body, and the call is measured under the route's name."""
    await shop.train()
    app = shop.app

    async def route_only(scope: Any, receive: Any, send: Any) -> None:
        async with AsyncExitStack() as stack:  # what FastAPI's own middleware provides
            scope.update(app=app, fastapi_middleware_astack=stack)
            await app.router(scope, receive, send)

    transport = httpx.ASGITransport(app=route_only)
    queries: list[list[tuple[str, str | int]]] = [
        [],
        [("limit", 3), ("offset", 2)],
        [("category", "Garden"), ("limit", 8)],
        [("exclude", planted.kitchen[3]), ("exclude", planted.kitchen[2])],
    ]
    async with httpx.AsyncClient(transport=transport, base_url="http://route") as router:
        for customer in (planted.kitchen_fans[0], planted.newcomer, "anonymous"):
            for params in queries:
                path = f"/v1/recommendations/{customer}"
                hot = await shop.recommend.get(path, params=params)
                routed = await router.get(path, params=params)
                assert hot.status_code == routed.status_code == 200
                assert hot.json() == routed.json(), (customer, params)
                assert hot.headers["content-type"] == "application/json"
    metrics = (await shop.recommend.get("/metrics")).text
    assert 'route="/v1/recommendations/{customer_id}"' in metrics
