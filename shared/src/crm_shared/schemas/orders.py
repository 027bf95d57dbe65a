"""Wire schemas of orders: creation, lines, the status lifecycle, refunds, summaries, import."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.schemas.customers import ImportRowError
from crm_shared.types import Amount, CurrencyCode, ExternalRef, LineText, PastUtcDatetime, Sku

MAX_ORDER_LINES = 500
MAX_QUANTITY = 1_000_000


class OrderStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    refunded = "refunded"


class SalesChannel(StrEnum):
    web = "web"
    app = "app"
    store = "store"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineCreate(_Input):
    """One product of the order, named by `product_id` or by `sku` (exactly one of them)."""

    product_id: uuid.UUID | None = None
    sku: Sku | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Amount | None = Field(
        None,
        description="In the order's currency. Default: the product's current price, whose "
        "currency must then be the order's.",
    )
    discount: Amount = Field(
        Decimal(0), description="Amount off the whole line; at most quantity x unit_price."
    )

    @model_validator(mode="after")
    def _one_product_reference(self) -> OrderLineCreate:
        if (self.product_id is None) == (self.sku is None):
            raise ValueError("name the product by exactly one of product_id and sku")
        return self


class OrderCreate(_Input):
    customer_id: uuid.UUID = Field(description="Must exist in the customer service.")
    external_ref: ExternalRef | None = Field(None, description="The shop's own id; unique.")
    channel: SalesChannel
    currency: CurrencyCode
    placed_at: PastUtcDatetime | None = Field(
        None, description="When it was placed; now if omitted."
    )
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=MAX_ORDER_LINES)


class OrderImport(OrderCreate):
    """An order of the bulk import; historical orders may arrive in their final status."""

    status: OrderStatus = Field(
        OrderStatus.pending,
        description="The order's status now; `refunded` stores a full refund of every line.",
    )


class OrderStatusUpdate(_Input):
    """Moves an order along its lifecycle; see `POST /v1/orders/{order_id}/status`."""

    status: OrderStatus
    reason: LineText | None = Field(
        None, description="Kept with the refund when the new status is `refunded`."
    )


class RefundLineCreate(_Input):
    order_line_id: uuid.UUID
    quantity: int = Field(
        ge=0, le=MAX_QUANTITY, description="Units returned; 0 for a refund of money only."
    )
    amount: Amount | None = Field(
        None,
        description="Default: the line's net price per unit x quantity (what is left on the "
        "line when the rest of its units are refunded).",
    )

    @model_validator(mode="after")
    def _refunds_something(self) -> RefundLineCreate:
        if self.quantity == 0 and not self.amount:
            raise ValueError("a refund of no units needs an amount above zero")
        return self


class RefundCreate(_Input):
    lines: list[RefundLineCreate] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    reason: LineText | None = None

    @model_validator(mode="after")
    def _one_entry_per_line(self) -> RefundCreate:
        ids = [line.order_line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("name each order line at most once per refund")
        return self


class OrderLineRead(BaseModel):
    id: uuid.UUID
    line_number: int = Field(description="1-based, in the order the lines were given.")
    product_id: uuid.UUID
    sku: str = Field(description="The product's sku when the order was placed.")
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal = Field(description="quantity x unit_price - discount.")
    refunded_quantity: int
    refunded_amount: Decimal


class StatusChangeRead(BaseModel):
    from_status: OrderStatus | None = Field(description="Null for the order's creation.")
    to_status: OrderStatus
    at: dt.datetime


class RefundLineRead(BaseModel):
    order_line_id: uuid.UUID
    quantity: int
    amount: Decimal


class RefundRead(BaseModel):
    id: uuid.UUID
    amount: Decimal
    reason: str | None
    created_at: dt.datetime
    lines: list[RefundLineRead]


class OrderRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    external_ref: str | None
    status: OrderStatus
    channel: SalesChannel
    currency: str
    subtotal: Decimal = Field(description="sum of quantity x unit_price.")
    discount_total: Decimal = Field(description="sum of discount.")
    total: Decimal = Field(description="subtotal - discount_total.")
    refunded_total: Decimal
    placed_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    lines: list[OrderLineRead]


class OrderDetail(OrderRead):
    status_history: list[StatusChangeRead] = Field(description="Oldest first.")
    refunds: list[RefundRead] = Field(description="Oldest first.")


class CurrencySummary(BaseModel):
    currency: str
    order_count: int
    net_revenue: Decimal
    average_order_value: Decimal
    first_order_at: dt.datetime
    last_order_at: dt.datetime


class CustomerOrderSummary(BaseModel):
    """A customer's orders at a glance; cancelled orders are left out of every figure.

    `net_revenue` is sum of (total - refunded_total); `average_order_value` is net_revenue /
    order_count. When the orders are in more than one currency the top-level money
    figures are null: read them per currency in `by_currency`.
    """

    customer_id: uuid.UUID
    order_count: int
    cancelled_count: int
    currency: str | None
    net_revenue: Decimal | None
    average_order_value: Decimal | None
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    by_currency: list[CurrencySummary]


class OrderImportReport(BaseModel):
    received: int
    inserted: int
    duplicates: int = Field(
        description="Orders whose external_ref is already stored or came earlier in the body."
    )
    rejected: int
    committed: bool = Field(description="False when `on_error=abort` refused the import.")
    errors: list[ImportRowError] = Field(
        description="Per-row errors, the first 1000; `rejected` counts them all."
    )
    errors_truncated: bool = False


class SalesInterval(StrEnum):
    week = "week"
    month = "month"


class SalesPeriod(BaseModel):
    """One period of one currency; cancelled orders are left out of every figure."""

    period_start: dt.date = Field(description="Monday of the week, or first day of the month.")
    currency: str
    orders: int = Field(description="Orders placed in the period.")
    customers: int = Field(description="Distinct customers who placed them.")
    net_revenue: Decimal = Field(description="Sum of (total - refunded_total).")


class SalesSummary(BaseModel):
    """Orders and revenue of the whole shop over time, one row per period and currency.

    Periods without orders are present with zeros, so a chart of them is honest.
    """

    interval: SalesInterval
    start: dt.date = Field(description="First period's start (inclusive).")
    end: dt.date = Field(description="End of the last period (exclusive).")
    currencies: list[str] = Field(description="Currencies with orders in the window.")
    orders: int = Field(description="Orders in the window, every currency.")
    customers: int = Field(description="Distinct customers with an order in the window.")
    periods: list[SalesPeriod]
