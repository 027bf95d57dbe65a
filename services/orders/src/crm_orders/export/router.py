"""HTTP routes of the export domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from crm_orders.export import service
from crm_shared.db import Database
from crm_shared.errors import problem_responses
from crm_shared.feed import NdjsonStream
from crm_shared.pagination import FeedCursor, FeedLimit
from crm_shared.schemas.exports import InteractionChange, OrderLineChange, ProductChange

router = APIRouter(prefix="/v1", tags=["export"])


Feed = Callable[[Database, int, int | None], AsyncIterator[bytes]]


def _responses(line: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": f"NDJSON, one `{line.__name__}` per line, in feed order."},
        **problem_responses(422),
    }


def _stream(request: Request, feed: Feed, cursor: int, limit: int | None) -> NdjsonStream:
    return NdjsonStream(feed(request.app.state.database, cursor, limit))


@router.get(
    "/export/order-lines",
    response_class=NdjsonStream,
    response_model=OrderLineChange,
    responses=_responses(OrderLineChange),
    summary="Stream order lines changed after a cursor",
)
async def export_order_lines(
    request: Request, cursor: FeedCursor = 0, limit: FeedLimit = None
) -> NdjsonStream:
    """Every order line whose order or the line itself changed after `cursor` (created,
    paid, shipped, cancelled, refunded in part or whole), each once at its latest state.

    Resume with the `position` of the last line received as the next `cursor`.
    """
    return _stream(request, service.order_line_changes, cursor, limit)


@router.get(
    "/export/interactions",
    response_class=NdjsonStream,
    response_model=InteractionChange,
    responses=_responses(InteractionChange),
    summary="Stream interactions recorded after a cursor",
)
async def export_interactions(
    request: Request, cursor: FeedCursor = 0, limit: FeedLimit = None
) -> NdjsonStream:
    """Interactions in the order they were stored; resume with the last `position`."""
    return _stream(request, service.interaction_changes, cursor, limit)


@router.get(
    "/export/products",
    response_class=NdjsonStream,
    response_model=ProductChange,
    responses=_responses(ProductChange),
    summary="Stream products changed after a cursor",
)
async def export_products(
    request: Request, cursor: FeedCursor = 0, limit: FeedLimit = None
) -> NdjsonStream:
    """Every product created or changed after `cursor`, each once at its latest state.

    Resume with the `position` of the last line received as the next `cursor`.
    """
    return _stream(request, service.product_changes, cursor, limit)
