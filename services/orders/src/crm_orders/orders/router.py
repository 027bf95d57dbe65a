"""HTTP routes of the orders domain."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import Response

from crm_orders.customers import CustomerDirectoryDep
from crm_orders.database import idempotency
from crm_orders.orders import importer, service
from crm_orders.orders.repository import OrderFilters
from crm_orders.settings import OrdersSettings
from crm_shared.bulk import NDJSON_MEDIA_TYPES, require_ndjson
from crm_shared.deps import DatabaseDep, ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.idempotency import idempotency_key_header
from crm_shared.pagination import PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.customers import ImportErrorPolicy
from crm_shared.schemas.orders import (
    CustomerOrderSummary,
    OrderCreate,
    OrderDetail,
    OrderImport,
    OrderImportReport,
    OrderRead,
    OrderStatus,
    OrderStatusUpdate,
    RefundCreate,
)
from crm_shared.types import UtcDatetime

router = APIRouter(prefix="/v1", tags=["orders"])

OrderId = Annotated[uuid.UUID, Path(description="The order's id.")]
CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]


def _import_body() -> dict[str, Any]:
    """The import's body in OpenAPI: lines of `OrderImport`, spelled out inline since no
    route takes it as JSON (its parts, such as `OrderLineCreate`, are components)."""
    schema = OrderImport.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = {media_type: {"schema": schema} for media_type in NDJSON_MEDIA_TYPES}
    return {"requestBody": {"required": True, "content": content}}


_IMPORT_BODY = _import_body()


async def order_filters(
    customer_id: uuid.UUID | None = Query(None, description="Only this customer's orders."),
    status: OrderStatus | None = Query(None),
    placed_after: UtcDatetime | None = Query(None, description="Inclusive."),
    placed_before: UtcDatetime | None = Query(None, description="Exclusive."),
) -> OrderFilters:
    return OrderFilters(
        customer_id=customer_id,
        status=status.value if status else None,
        placed_after=placed_after,
        placed_before=placed_before,
    )


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderDetail,
    responses=problem_responses(409, 422, 503),
    summary="Place an order",
)
async def create_order(
    payload: OrderCreate,
    request: Request,
    session: SessionDep,
    customers: CustomerDirectoryDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """The order starts `pending`. Totals are computed here in exact decimals: each unit
    price and discount is rounded half up to the currency's minor unit, subtotal = sum of
    quantity x unit_price, discount_total = sum of discounts, total = subtotal -
    discount_total.

    The customer must exist in the customer service (422 `customer-not-found`; 503
    `customer-service-unavailable` when it cannot tell). Each line's product must exist
    and be active; a line without `unit_price` takes the product's price, which must then
    be in the order's currency (422 `order-lines-invalid` names each bad line). An
    `external_ref` is unique (409 `order-exists`). With an `Idempotency-Key`, a retry
    returns the first order and the same key with another body is a 409.
    """
    # Asked before the transaction's first statement: no lock waits on the other service.
    await customers.require(payload.customer_id)
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope="POST /v1/orders",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.create_order(session, payload),
    )


@router.get(
    "/orders",
    response_model=Page[OrderRead],
    responses=problem_responses(400, 422),
    summary="List orders, newest first",
)
async def list_orders(
    db: ReaderDep, page: PageDep, filters: OrderFilters = Depends(order_filters)
) -> Page[OrderRead]:
    """Keyset pages by `placed_at` then id, newest first, each order with its lines."""
    return await service.list_orders(db, filters, limit=page.limit, cursor=page.cursor)


@router.post(
    "/orders/import",
    response_model=OrderImportReport,
    responses=problem_responses(413, 415, 422, 503),
    summary="Import orders from NDJSON",
    openapi_extra=_IMPORT_BODY,
)
async def import_orders(
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    customers: CustomerDirectoryDep,
    on_error: ImportErrorPolicy = Query(
        ImportErrorPolicy.abort,
        description="`abort`: any invalid row stores nothing (422 with the report); "
        "`skip`: store the valid rows and report the others.",
    ),
) -> OrderImportReport:
    """One `OrderImport` object per line (an `OrderCreate`, optionally with the order's
    final `status`), in one transaction; for historical data, so lines may name inactive
    products.

    An order whose `external_ref` is already stored, or came earlier in the body, counts
    as a duplicate and is skipped: re-running an import is safe. Rows naming an unknown
    customer or product are rejected; a customer service that cannot answer is a 503 and
    nothing is stored. An order imported as `refunded` carries a full refund. Row numbers
    count non-blank lines from 1; the first 1000 row errors are listed.
    """
    require_ndjson(request.headers.get("content-type"))
    settings: OrdersSettings = request.app.state.settings
    job = importer.ImportJob(
        policy=on_error, batch_size=settings.import_batch_size, max_rows=settings.import_max_rows
    )
    return await importer.import_orders(session, database, customers, request.stream(), job)


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetail,
    responses=problem_responses(404, 422),
    summary="Read an order with its lines, status history and refunds",
)
async def get_order(order_id: OrderId, db: ReaderDep) -> OrderDetail:
    return await service.get_order(db, order_id)


@router.post(
    "/orders/{order_id}/status",
    response_model=OrderDetail,
    responses=problem_responses(404, 409, 422),
    summary="Move an order to another status",
)
async def change_status(
    order_id: OrderId,
    payload: OrderStatusUpdate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """pending → paid | cancelled; paid → shipped | cancelled | refunded; shipped →
    delivered | refunded; delivered → refunded. Cancelled and refunded are final.
    Anything else is a 409 `invalid-transition` listing the allowed targets. `refunded`
    refunds whatever is left on every line (a full refund, recorded as one refund).
    """
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope=f"POST /v1/orders/{order_id}/status",
        request_body=await request.body(),
        status_code=status.HTTP_200_OK,
        produce=lambda: service.change_status(session, order_id, payload),
    )


@router.post(
    "/orders/{order_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderDetail,
    responses=problem_responses(404, 409, 422),
    summary="Refund units or money of an order's lines",
)
async def refund_order(
    order_id: OrderId,
    payload: RefundCreate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """Allowed on paid, shipped and delivered orders (409 `refund-not-allowed`). Each
    entry refunds `quantity` units of a line and `amount` of money: by default the line's
    net price per unit x quantity, rounded half up, or all that is left when the last
    units go. Never more than is left on the line (409 `refund-exceeds-line`). Once every
    unit and all the money of every line is refunded, the order becomes `refunded`.
    Answers with the order; the new refund is the last of its `refunds`.
    """
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope=f"POST /v1/orders/{order_id}/refunds",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.refund(session, order_id, payload),
    )


@router.get(
    "/customers/{customer_id}/orders",
    response_model=Page[OrderRead],
    responses=problem_responses(400, 422),
    summary="A customer's order history, newest first",
)
async def customer_orders(
    customer_id: CustomerId,
    db: ReaderDep,
    page: PageDep,
    status: OrderStatus | None = Query(None),
) -> Page[OrderRead]:
    """Read from this service alone (a customer without orders has an empty history),
    so the history stays readable while the customer service is down."""
    filters = OrderFilters(customer_id=customer_id, status=status.value if status else None)
    return await service.list_orders(db, filters, limit=page.limit, cursor=page.cursor)


@router.get(
    "/customers/{customer_id}/orders/summary",
    response_model=CustomerOrderSummary,
    responses=problem_responses(422),
    summary="A customer's order count, net revenue and average order value",
)
async def customer_summary(customer_id: CustomerId, db: ReaderDep) -> CustomerOrderSummary:
    """Cancelled orders count in `cancelled_count` only. Net revenue is total minus
    refunds; the average order value is net revenue per order, rounded half up."""
    return await service.customer_summary(db, customer_id)
