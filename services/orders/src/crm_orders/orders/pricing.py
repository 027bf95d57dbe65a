"""An order's lines priced against the catalogue, and its totals, in exact decimals.

Every amount is rounded (half up) to the currency's minor unit once, on the way in: the
unit price and the discount of each line. Products and sums of such amounts need no
rounding after that, so subtotal, discount_total and total add up to the cent, and the
lines' totals add up to the order's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_shared.schemas.common import FieldError
from crm_shared.schemas.orders import OrderCreate, OrderLineCreate
from crm_shared.types import MAX_AMOUNT, quantize_money

_ZERO = Decimal(0)


@dataclass(slots=True)
class PricedLine:
    line_number: int
    product_id: uuid.UUID
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal


@dataclass(slots=True)
class PricedOrder:
    lines: list[PricedLine]
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal


def price_order(
    order: OrderCreate,
    products_by_id: Mapping[uuid.UUID, Any],
    products_by_sku: Mapping[str, Any],
    *,
    inactive_allowed: bool = False,
) -> PricedOrder | list[FieldError]:
    """The order priced, or what is wrong with its lines, each error naming its line.

    `inactive_allowed` is for historical orders: a product retired since was sold then.
    """
    currency = order.currency
    priced: list[PricedLine] = []
    errors: list[FieldError] = []
    for index, line in enumerate(order.lines):
        # Error texts are made only for lines that fail: this runs for every imported line.
        if line.product_id is not None:
            product = products_by_id.get(line.product_id)
        else:
            product = products_by_sku.get(line.sku or "")
        if product is None:
            errors.append(
                FieldError(
                    field=_product_field(index, line),
                    message=f"no product {line.product_id}"
                    if line.product_id is not None
                    else f"no product with sku {line.sku!r}",
                    code="product_not_found",
                )
            )
            continue
        if not product.active and not inactive_allowed:
            errors.append(
                FieldError(
                    field=_product_field(index, line),
                    message=f"product {product.sku!r} is inactive and cannot be ordered",
                    code="product_inactive",
                )
            )
            continue
        if line.unit_price is not None:
            unit_price = quantize_money(line.unit_price, currency)
        elif product.currency == currency:
            unit_price = product.price  # stored rounded to its currency already
        else:
            errors.append(
                FieldError(
                    field=f"lines.{index}.unit_price",
                    message=f"product {product.sku!r} is priced in {product.currency}, the "
                    f"order in {currency}: give the unit_price in {currency}",
                    code="currency_mismatch",
                )
            )
            continue
        discount = quantize_money(line.discount, currency) if line.discount else _ZERO
        gross = unit_price * line.quantity
        if discount > gross:
            errors.append(
                FieldError(
                    field=f"lines.{index}.discount",
                    message=f"{discount} is more than the line's {gross} (quantity x unit_price)",
                    code="discount_too_large",
                )
            )
            continue
        priced.append(
            PricedLine(
                line_number=index + 1,
                product_id=product.id,
                sku=product.sku,
                quantity=line.quantity,
                unit_price=unit_price,
                discount=discount,
                line_total=gross - discount,
            )
        )
    if errors:
        return errors
    subtotal = sum((line.line_total + line.discount for line in priced), _ZERO)
    discount_total = sum((line.discount for line in priced), _ZERO)
    if subtotal >= MAX_AMOUNT:
        return [
            FieldError(
                field="lines",
                message=f"the order's subtotal {subtotal} is beyond the largest amount stored",
                code="amount_too_large",
            )
        ]
    return PricedOrder(priced, subtotal, discount_total, subtotal - discount_total)


def _product_field(index: int, line: OrderLineCreate) -> str:
    return f"lines.{index}.{'product_id' if line.product_id is not None else 'sku'}"
