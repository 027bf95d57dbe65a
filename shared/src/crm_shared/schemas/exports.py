"""Wire schemas of the orders service's change feeds: one NDJSON line per changed row.

Analytics and recommend keep their copies exact by applying the lines in `position`
order: a row appears again, at its latest state, each time it changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from crm_shared.schemas.interactions import InteractionKind

POSITION_DESCRIPTION = "Monotonic feed position; resume with `?cursor=` set to it."


class OrderLineChange(BaseModel):
    """An order line with what of its order analytics needs, after the latest change of either.

    Amounts are in the order's currency. `line_total` is quantity * unit_price - discount;
    the refunds so far are `refunded_quantity` and `refunded_amount`, so the line's net
    revenue is `line_total - refunded_amount`.
    """

    position: int = Field(description=POSITION_DESCRIPTION)
    line_id: uuid.UUID
    order_id: uuid.UUID
    order_external_ref: str | None
    line_number: int
    customer_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal
    refunded_quantity: int
    refunded_amount: Decimal
    order_status: str = Field(
        description="pending, paid, shipped, delivered, cancelled or refunded."
    )
    currency: str
    channel: str
    placed_at: dt.datetime
    changed_at: dt.datetime = Field(description="When the order or the line last changed.")


class InteractionChange(BaseModel):
    """An interaction as stored; interactions never change, so each appears once."""

    position: int = Field(description=POSITION_DESCRIPTION)
    id: uuid.UUID
    event_id: str | None
    kind: InteractionKind
    customer_id: uuid.UUID | None
    session_id: str | None
    product_id: uuid.UUID
    rating: int | None
    review_text: str | None
    occurred_at: dt.datetime
    received_at: dt.datetime


class ProductChange(BaseModel):
    """A product after its latest change (products are never deleted, only deactivated)."""

    position: int = Field(description=POSITION_DESCRIPTION)
    id: uuid.UUID
    sku: str
    name: str
    description: str | None
    category_path: str | None
    brand: str | None
    price: Decimal
    currency: str
    active: bool
    in_stock: bool
    attributes: dict[str, Any]
    created_at: dt.datetime
    changed_at: dt.datetime
