"""HTTP routes of serving: personal lists, similar and popular products, batch, session.

Handlers read the serving state once and answer from memory: no database on this path.
Bodies go out through orjson; `response_model` documents them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_recommend.serving import service
from crm_recommend.serving.query import ListQuery, list_query, parameters, product_path
from crm_recommend.serving.service import Filters, canonical_category
from crm_recommend.serving.state import ServingState, current
from crm_recommend.settings import RecommendSettings
from crm_shared.errors import problem_responses
from crm_shared.feed import NdjsonStream
from crm_shared.schemas.recommend import (
    BatchRecommendations,
    BatchRequest,
    RecommendationList,
    SessionRequest,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])


class JsonBytes(Response):
    """A body already serialised by orjson: the lists skip a pydantic round trip."""

    media_type = "application/json"


def _answer(body: dict[str, object]) -> JsonBytes:
    return JsonBytes(orjson.dumps(body))


# Customers of a batch answered per chunk of the stream before yielding to other requests.
BATCH_CHUNK = 200

_CUSTOMER_PATH = {
    "name": "customer_id",
    "description": "Customer id; anything else (e.g. `anonymous`) gets popular products.",
    "schema": {"type": "string", "maxLength": 100},
}
_PRODUCT_PATH = {"name": "product_id", "schema": {"type": "string", "format": "uuid"}}


def _filters(request: Request, query: ListQuery, *, personal: bool = False) -> Filters:
    settings: RecommendSettings = request.app.state.settings
    return Filters(
        query.limit,
        query.offset,
        canonical_category(query.category),
        query.exclude,
        personal and settings.exclude_bought,
    )


@router.get(
    "/recommendations/{customer_id}",
    response_model=RecommendationList,
    responses=problem_responses(422),
    summary="Recommend products to a customer",
    openapi_extra=parameters("limit", "offset", "category", "exclude", path=_CUSTOMER_PATH),
)
async def recommend(request: Request) -> JsonBytes:
    """The customer's list: active, in-stock products, never one they bought, each with
    the reason it is shown. An unknown or anonymous customer, or no model yet, gets
    popular products (`fallback: true`), never an error."""
    filters = _filters(request, list_query(request), personal=True)
    customer_id: str = request.path_params["customer_id"]
    return _answer(service.personal(current(request.app), customer_id, filters))


@router.post(
    "/recommendations/session",
    response_model=RecommendationList,
    responses=problem_responses(422),
    summary="Recommend products to a visitor from the session's views",
)
async def recommend_for_session(request: Request, payload: SessionRequest) -> JsonBytes:
    """Products similar to the visitor's recent views (the latest count most), topped up
    with popular products; for visitors who are not signed in."""
    filters = Filters(payload.limit, 0, canonical_category(payload.category), payload.exclude)
    return _answer(service.session(current(request.app), payload.product_ids, filters))


@router.post(
    "/recommendations:batch",
    response_class=NdjsonStream,
    response_model=BatchRecommendations,
    responses={
        200: {"description": "NDJSON, one `BatchRecommendations` per customer, in request order."},
        **problem_responses(422),
    },
    summary="Recommend products to many customers (campaigns)",
)
async def recommend_batch(request: Request, payload: BatchRequest) -> NdjsonStream:
    """One line per customer, streamed as it is built, all from the same model version."""
    state = current(request.app)
    settings: RecommendSettings = request.app.state.settings
    filters = Filters(
        payload.limit,
        0,
        canonical_category(payload.category),
        payload.exclude,
        settings.exclude_bought,
    )
    return NdjsonStream(_batch_lines(state, payload.customer_ids, filters))


async def _batch_lines(
    state: ServingState, customer_ids: list[str], filters: Filters
) -> AsyncIterator[bytes]:
    for start in range(0, len(customer_ids), BATCH_CHUNK):
        lines = []
        for customer_id in customer_ids[start : start + BATCH_CHUNK]:
            body = service.personal(state, customer_id, filters)
            body["customer_id"] = customer_id
            lines.append(orjson.dumps(body))
        yield b"\n".join(lines) + b"\n"
        await asyncio.sleep(0)


@router.get(
    "/products/popular",
    response_model=RecommendationList,
    responses=problem_responses(422),
    summary="Popular products, overall or in a category",
    openapi_extra=parameters("category", "limit", "offset", "exclude"),
)
async def popular(request: Request) -> JsonBytes:
    """Active, in-stock products by time-decayed popularity (interaction counts before the
    first model)."""
    filters = _filters(request, list_query(request))
    return _answer(service.popular(current(request.app), filters))


@router.get(
    "/products/{product_id}/similar",
    response_model=RecommendationList,
    responses=problem_responses(422),
    summary="Products similar to a product",
    openapi_extra=parameters("limit", "category", "exclude", path=_PRODUCT_PATH),
)
async def similar(request: Request) -> JsonBytes:
    """Products the model finds most like this one; popular products of its category
    (`fallback: true`) when it knows none, never an error."""
    product_id = product_path(request)
    filters = _filters(request, list_query(request))
    return _answer(service.similar(current(request.app), product_id, filters))
