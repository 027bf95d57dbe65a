"""All SQL of the export feeds: the rows changed after a position, in position order.

Only positions no open transaction can still fill in below are read (`readable`), so a
reader never passes a position that appears later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_orders.catalogue.models import Product
from crm_orders.database import INTERACTION_FEED, ORDER_LINE_FEED, PRODUCT_FEED, feed_counter
from crm_orders.interactions.models import Interaction
from crm_orders.orders.models import Order, OrderLine
from crm_shared.feed import readable

products = Product.__table__  # type: ignore[attr-defined]
interactions = Interaction.__table__  # type: ignore[attr-defined]
orders = Order.__table__  # type: ignore[attr-defined]
order_lines = OrderLine.__table__  # type: ignore[attr-defined]

Row = dict[str, Any]

_ORDER_LINE_CHANGES: Select[Any] = (
    select(
        order_lines.c.change_position.label("position"),
        order_lines.c.id.label("line_id"),
        order_lines.c.order_id,
        orders.c.external_ref.label("order_external_ref"),
        order_lines.c.line_number,
        orders.c.customer_id,
        order_lines.c.product_id,
        order_lines.c.sku,
        order_lines.c.quantity,
        order_lines.c.unit_price,
        order_lines.c.discount,
        order_lines.c.line_total,
        order_lines.c.refunded_quantity,
        order_lines.c.refunded_amount,
        orders.c.status.label("order_status"),
        orders.c.currency,
        orders.c.channel,
        orders.c.placed_at,
        orders.c.updated_at.label("changed_at"),
    )
    .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
    .order_by(order_lines.c.change_position)
)

_INTERACTION_CHANGES: Select[Any] = select(
    interactions.c.change_position.label("position"),
    interactions.c.id,
    interactions.c.event_id,
    interactions.c.kind,
    interactions.c.customer_id,
    interactions.c.session_id,
    interactions.c.product_id,
    interactions.c.rating,
    interactions.c.review_text,
    interactions.c.occurred_at,
    interactions.c.received_at,
).order_by(interactions.c.change_position)

_PRODUCT_CHANGES: Select[Any] = select(
    products.c.change_position.label("position"),
    products.c.id,
    products.c.sku,
    products.c.name,
    products.c.description,
    products.c.category_path,
    products.c.brand,
    products.c.price,
    products.c.currency,
    products.c.active,
    products.c.in_stock,
    products.c.attributes,
    products.c.created_at,
    products.c.updated_at.label("changed_at"),
).order_by(products.c.change_position)


async def order_line_changes(db: AsyncConnection, after: int, limit: int) -> list[Row]:
    position = order_lines.c.change_position
    statement = _ORDER_LINE_CHANGES.where(
        position > after, readable(db, feed_counter, ORDER_LINE_FEED, position)
    ).limit(limit)
    return await _rows(db, statement)


async def interaction_changes(db: AsyncConnection, after: int, limit: int) -> list[Row]:
    position = interactions.c.change_position
    statement = _INTERACTION_CHANGES.where(
        position > after, readable(db, feed_counter, INTERACTION_FEED, position)
    ).limit(limit)
    return await _rows(db, statement)


async def product_changes(db: AsyncConnection, after: int, limit: int) -> list[Row]:
    position = products.c.change_position
    statement = _PRODUCT_CHANGES.where(
        position > after, readable(db, feed_counter, PRODUCT_FEED, position)
    ).limit(limit)
    return await _rows(db, statement)


async def _rows(db: AsyncConnection, statement: Select[Any]) -> list[Row]:
    """The rows as plain dicts: a page goes straight on to the JSON encoder."""
    result = await db.execute(statement)
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]
