"""An order's lines priced against the catalogue, and its totals, exactly.

Every amount is rounded (half up) to the currency's minor unit once, on the way in: the
unit price and the discount of each line. Products and sums of such amounts need no
rounding after that, so the sums are done in whole minor units (cents for most
currencies), as integers: subtotal, discount_total and total add up to the cent, and
the lines' totals add up to the order's. The results are handed out as decimals.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_shared.schemas.common import FieldError
from crm_shared.schemas.orders import OrderCreate, OrderLineCreate
from crm_shared.types import MAX_AMOUNT, minor_unit_digits, quantize_money

_ZERO = Decimal(0)


@dataclass(slots=True, frozen=True)
class SaleProduct:
    """What pricing needs of a product; its price also in minor units of its currency."""

    id: uuid.UUID
    sku: str
    price: Decimal
    currency: str
    active: bool
    price_minor: int

    @classmethod
    def of(cls, row: Any) -> SaleProduct:
        price = quantize_money(row.price, row.currency)  # stored rounded so already
        minor = _minor(price, minor_unit_digits(row.currency))
        return cls(row.id, row.sku, price, row.currency, row.active, minor)


def _minor(amount: Decimal, digits: int) -> int:
    """A decimal already rounded to `digits` decimals, in those minor units."""
    return int(amount.scaleb(digits))


def _decimal(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits)


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
    products_by_id: Mapping[uuid.UUID, SaleProduct],
    products_by_sku: Mapping[str, SaleProduct],
    *,
    inactive_allowed: bool = False,
) -> PricedOrder | list[FieldError]:
    """The order priced, or what is wrong with its lines, each error naming its line.

    `inactive_allowed` is for historical orders: a product retired since was sold then.
    """
    currency = order.currency
    digits = minor_unit_digits(currency)
    priced: list[PricedLine] = []
    errors: list[FieldError] = []
    subtotal = discount_total = 0  # minor units
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
            unit_minor = _minor(unit_price, digits)
        elif product.currency == currency:
            unit_price, unit_minor = product.price, product.price_minor
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
        if line.discount:
            discount = quantize_money(line.discount, currency)
            discount_minor = _minor(discount, digits)
        else:
            discount, discount_minor = _ZERO, 0
        gross = unit_minor * line.quantity
        if discount_minor > gross:
            errors.append(
                FieldError(
                    field=f"lines.{index}.discount",
                    message=f"{discount} is more than the line's {_decimal(gross, digits)} "
                    "(quantity x unit_price)",
                    code="discount_too_large",
                )
            )
            continue
        subtotal += gross
        discount_total += discount_minor
        priced.append(
            PricedLine(
                line_number=index + 1,
                product_id=product.id,
                sku=product.sku,
                quantity=line.quantity,
                unit_price=unit_price,
                discount=discount,
                line_total=_decimal(gross - discount_minor, digits),
            )
        )
    if errors:
        return errors
    subtotal_amount = _decimal(subtotal, digits)
    if subtotal_amount >= MAX_AMOUNT:
        return [
            FieldError(
                field="lines",
                message=f"the order's subtotal {subtotal_amount} is beyond the largest amount "
                "stored",
                code="amount_too_large",
            )
        ]
    return PricedOrder(
        priced,
        subtotal_amount,
        _decimal(discount_total, digits),
        _decimal(subtotal - discount_total, digits),
    )


def _product_field(index: int, line: OrderLineCreate) -> str:
    return f"lines.{index}.{'product_id' if line.product_id is not None else 'sku'}"
