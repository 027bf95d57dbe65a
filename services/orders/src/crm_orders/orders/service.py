"""The logic of orders: placing them, their lifecycle, refunds, histories and summaries.

Every change of an order (creation, status change, refund) runs under its row lock,
records what happened, and re-stamps all of the order's lines in the order-lines feed,
so the copies analytics keeps see each line again at its latest state.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.catalogue import repository as catalogue
from crm_orders.orders import repository
from crm_orders.orders.errors import (
    InvalidTransition,
    OrderExists,
    OrderLineNotFound,
    OrderLinesInvalid,
    OrderNotFound,
    RefundExceedsLine,
    RefundNotAllowed,
)
from crm_orders.orders.models import Order, OrderLine, OrderStatusChange, Refund, RefundLine
from crm_orders.orders.pricing import SaleProduct, price_order
from crm_orders.orders.repository import Db, OrderFilters
from crm_shared.db import utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.common import Page
from crm_shared.schemas.orders import (
    CurrencySummary,
    CustomerOrderSummary,
    OrderCreate,
    OrderDetail,
    OrderLineRead,
    OrderRead,
    OrderStatus,
    OrderStatusUpdate,
    RefundCreate,
    RefundLineRead,
    RefundRead,
    StatusChangeRead,
)
from crm_shared.types import quantize_money

PENDING, PAID, SHIPPED, DELIVERED, CANCELLED, REFUNDED = (
    OrderStatus.pending,
    OrderStatus.paid,
    OrderStatus.shipped,
    OrderStatus.delivered,
    OrderStatus.cancelled,
    OrderStatus.refunded,
)

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    PENDING: frozenset({PAID, CANCELLED}),
    PAID: frozenset({SHIPPED, CANCELLED, REFUNDED}),
    SHIPPED: frozenset({DELIVERED, REFUNDED}),
    DELIVERED: frozenset({REFUNDED}),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}
REFUNDABLE = frozenset({PAID, SHIPPED, DELIVERED})


def line_read(row: Any, currency: str) -> OrderLineRead:
    return OrderLineRead(
        id=row.id,
        line_number=row.line_number,
        product_id=row.product_id,
        sku=row.sku,
        quantity=row.quantity,
        unit_price=quantize_money(row.unit_price, currency),
        discount=quantize_money(row.discount, currency),
        line_total=quantize_money(row.line_total, currency),
        refunded_quantity=row.refunded_quantity,
        refunded_amount=quantize_money(row.refunded_amount, currency),
    )


def order_read(row: Any, lines: Iterable[Any]) -> OrderRead:
    """An order on the wire, from its ORM object or a plain row of the orders table."""
    currency = row.currency
    return OrderRead(
        id=row.id,
        customer_id=row.customer_id,
        external_ref=row.external_ref,
        status=OrderStatus(row.status),
        channel=row.channel,
        currency=currency,
        subtotal=quantize_money(row.subtotal, currency),
        discount_total=quantize_money(row.discount_total, currency),
        total=quantize_money(row.total, currency),
        refunded_total=quantize_money(row.refunded_total, currency),
        placed_at=row.placed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        lines=[line_read(line, currency) for line in lines],
    )


def order_detail(
    row: Any,
    lines: Iterable[Any],
    changes: Iterable[Any],
    refunds: Iterable[Any],
    refund_lines: Iterable[Any],
) -> OrderDetail:
    currency = row.currency
    lines_of_refund: dict[uuid.UUID, list[RefundLineRead]] = defaultdict(list)
    for refund_line in refund_lines:
        lines_of_refund[refund_line.refund_id].append(
            RefundLineRead(
                order_line_id=refund_line.order_line_id,
                quantity=refund_line.quantity,
                amount=quantize_money(refund_line.amount, currency),
            )
        )
    return OrderDetail(
        **dict(order_read(row, lines)),
        status_history=[
            StatusChangeRead(
                from_status=OrderStatus(change.from_status) if change.from_status else None,
                to_status=OrderStatus(change.to_status),
                at=change.at,
            )
            for change in changes
        ],
        refunds=[
            RefundRead(
                id=refund.id,
                amount=quantize_money(refund.amount, currency),
                reason=refund.reason,
                created_at=refund.created_at,
                lines=lines_of_refund[refund.id],
            )
            for refund in refunds
        ],
    )


class SaleProducts:
    """The products orders' lines name, each looked up once: a bulk import keeps one for
    all its batches, since its orders name the same products again and again."""

    COLUMNS = ("id", "sku", "price", "currency", "active")

    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, SaleProduct] = {}
        self.by_sku: dict[str, SaleProduct] = {}

    async def load(self, db: Db, placed: Iterable[OrderCreate]) -> None:
        """Look up the products of these orders not looked up yet: two queries at most."""
        ids: set[uuid.UUID] = set()
        skus: set[str] = set()
        for order in placed:
            for line in order.lines:
                if line.product_id is not None:
                    ids.add(line.product_id)
                elif line.sku is not None:
                    skus.add(line.sku)
        ids.difference_update(self.by_id)
        skus.difference_update(self.by_sku)
        rows = [
            *await catalogue.rows_by_id(db, list(ids), *self.COLUMNS),
            *await catalogue.rows_by_sku(db, list(skus), *self.COLUMNS),
        ]
        for row in rows:
            product = SaleProduct.of(row)
            self.by_id[product.id] = product
            self.by_sku[product.sku] = product


async def create_order(session: AsyncSession, payload: OrderCreate) -> OrderDetail:
    """Place an order whose customer was checked already (see the router: before the
    transaction's first statement, so no database lock waits on the customer service)."""
    if payload.external_ref is not None:
        existing = await repository.order_with_external_ref(session, payload.external_ref)
        if existing is not None:
            raise OrderExists(
                f"Order {existing} has external_ref {payload.external_ref!r}.",
                order_id=str(existing),
            )
    products = SaleProducts()
    await products.load(session, [payload])
    priced = price_order(payload, products.by_id, products.by_sku)
    if isinstance(priced, list):
        raise OrderLinesInvalid(
            "; ".join(f"{error.field}: {error.message}" for error in priced), errors=priced
        )
    now = utcnow()
    order = Order(
        customer_id=payload.customer_id,
        external_ref=payload.external_ref,
        status=PENDING.value,
        channel=payload.channel.value,
        currency=payload.currency,
        subtotal=priced.subtotal,
        discount_total=priced.discount_total,
        total=priced.total,
        refunded_total=Decimal(0),
        placed_at=payload.placed_at or now,
        created_at=now,
        updated_at=now,
    )
    position = await repository.next_line_positions(session, len(priced.lines))
    lines = [
        OrderLine(
            order_id=order.id,
            line_number=line.line_number,
            product_id=line.product_id,
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            line_total=line.line_total,
            refunded_quantity=0,
            refunded_amount=Decimal(0),
            change_position=position + offset,
        )
        for offset, line in enumerate(priced.lines)
    ]
    change = OrderStatusChange(order_id=order.id, from_status=None, to_status=PENDING.value, at=now)
    await repository.add_order(session, order, lines, change)
    return order_detail(order, lines, [change], [], [])


async def get_order(db: Db, order_id: uuid.UUID) -> OrderDetail:
    row = await repository.get_order_row(db, order_id)
    if row is None:
        raise OrderNotFound(f"No order {order_id}.")
    return await _detail(db, row, await repository.lines_of(db, [order_id]))


async def _detail(db: Db, row: Any, lines: Iterable[Any]) -> OrderDetail:
    return order_detail(
        row,
        lines,
        await repository.status_changes_of(db, row.id),
        await repository.refunds_of(db, row.id),
        await repository.refund_lines_of(db, row.id),
    )


async def _lock(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await repository.lock_order(session, order_id)
    if order is None:
        raise OrderNotFound(f"No order {order_id}.")
    return order


def _check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if target not in TRANSITIONS[current]:
        allowed = sorted(status.value for status in TRANSITIONS[current])
        options = f"it can move to {', '.join(allowed)}" if allowed else "it is final"
        raise InvalidTransition(
            f"An order cannot move from {current.value} to {target.value}; "
            f"from {current.value} {options}.",
            **{"from": current.value, "to": target.value, "allowed": allowed},
        )


async def _enter_status(
    session: AsyncSession, order: Order, target: OrderStatus, now: dt.datetime
) -> None:
    await repository.add_rows(
        session,
        OrderStatusChange(
            order_id=order.id, from_status=order.status, to_status=target.value, at=now
        ),
    )
    order.status = target.value


async def _restamp(
    session: AsyncSession, order: Order, lines: list[OrderLine], now: dt.datetime
) -> None:
    """The order changed: all its lines move to the head of the order-lines feed."""
    position = await repository.next_line_positions(session, len(lines))
    for offset, line in enumerate(lines):
        line.change_position = position + offset
    order.updated_at = now
    await session.flush()


async def change_status(
    session: AsyncSession, order_id: uuid.UUID, update: OrderStatusUpdate
) -> OrderDetail:
    """Move the order along its lifecycle; `refunded` refunds whatever is left on it."""
    order = await _lock(session, order_id)
    _check_transition(OrderStatus(order.status), update.status)
    lines = await repository.lines_for_update(session, order.id)
    now = utcnow()
    if update.status is REFUNDED:
        rest = [
            (line, line.quantity - line.refunded_quantity, line.line_total - line.refunded_amount)
            for line in lines
        ]
        rest = [entry for entry in rest if entry[1] or entry[2]]
        if rest:
            await _record_refund(session, order, rest, update.reason, now)
    await _enter_status(session, order, update.status, now)
    await _restamp(session, order, lines, now)
    return await _detail(session, order, lines)


async def refund(session: AsyncSession, order_id: uuid.UUID, payload: RefundCreate) -> OrderDetail:
    """Refund units or money of some lines; once nothing is left the order is `refunded`."""
    order = await _lock(session, order_id)
    status = OrderStatus(order.status)
    if status not in REFUNDABLE:
        raise RefundNotAllowed(
            f"Order {order_id} is {status.value}; only paid, shipped or delivered orders can "
            "be refunded.",
            order_status=status.value,
        )
    lines = await repository.lines_for_update(session, order.id)
    by_id = {line.id: line for line in lines}
    entries: list[tuple[OrderLine, int, Decimal]] = []
    for index, item in enumerate(payload.lines):
        line = by_id.get(item.order_line_id)
        if line is None:
            raise OrderLineNotFound(
                f"lines.{index}.order_line_id: {item.order_line_id} is not a line of order "
                f"{order_id}.",
                order_line_id=str(item.order_line_id),
            )
        units_left = line.quantity - line.refunded_quantity
        money_left = line.line_total - line.refunded_amount
        if item.quantity > units_left:
            raise RefundExceedsLine(
                f"Line {line.line_number} has {units_left} unit(s) left to refund, not "
                f"{item.quantity}.",
                order_line_id=str(line.id),
                units_left=units_left,
            )
        if item.amount is not None:
            amount = quantize_money(item.amount, order.currency)
        elif item.quantity == units_left:
            amount = money_left
        else:
            share = line.line_total * item.quantity / line.quantity
            amount = min(quantize_money(share, order.currency), money_left)
        if amount > money_left:
            left = quantize_money(money_left, order.currency)
            raise RefundExceedsLine(
                f"Line {line.line_number} has {left} {order.currency} left to refund, not "
                f"{amount}.",
                order_line_id=str(line.id),
                amount_left=str(left),
            )
        entries.append((line, item.quantity, amount))
    now = utcnow()
    await _record_refund(session, order, entries, payload.reason, now)
    if all(
        line.refunded_quantity == line.quantity and line.refunded_amount == line.line_total
        for line in lines
    ):
        await _enter_status(session, order, REFUNDED, now)
    await _restamp(session, order, lines, now)
    return await _detail(session, order, lines)


async def _record_refund(
    session: AsyncSession,
    order: Order,
    entries: list[tuple[OrderLine, int, Decimal]],
    reason: str | None,
    now: dt.datetime,
) -> None:
    total = sum((amount for _, _, amount in entries), Decimal(0))
    record = Refund(order_id=order.id, amount=total, reason=reason, created_at=now)
    await repository.add_rows(session, record)
    await repository.add_rows(
        session,
        *(
            RefundLine(refund_id=record.id, order_line_id=line.id, quantity=quantity, amount=amount)
            for line, quantity, amount in entries
        ),
    )
    for line, quantity, amount in entries:
        line.refunded_quantity += quantity
        line.refunded_amount += amount
    order.refunded_total += total


def _before(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The (placed_at, id) a cursor of a newest-first order list resumes before."""
    if cursor is None:
        return None
    placed_at, order_id = decode_cursor(cursor, 2)
    try:
        return dt.datetime.fromisoformat(str(placed_at)), uuid.UUID(str(order_id))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list.") from exc


async def list_orders(
    db: AsyncConnection, filters: OrderFilters, *, limit: int, cursor: str | None
) -> Page[OrderRead]:
    rows = await repository.list_rows(db, filters, before=_before(cursor), limit=limit)
    page = rows[:limit]
    lines_by_order: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for line in await repository.lines_of(db, [row.id for row in page]):
        lines_by_order[line.order_id].append(line)
    return Page(
        items=[order_read(row, lines_by_order[row.id]) for row in page],
        next_cursor=next_cursor(rows, limit, lambda row: [row.placed_at.isoformat(), str(row.id)]),
    )


async def customer_summary(db: AsyncConnection, customer_id: uuid.UUID) -> CustomerOrderSummary:
    rows = await repository.customer_figures(db, customer_id)
    per_currency = [
        CurrencySummary(
            currency=row.currency,
            order_count=row.order_count,
            net_revenue=quantize_money(row.net_revenue, row.currency),
            average_order_value=quantize_money(row.net_revenue / row.order_count, row.currency),
            first_order_at=row.first_order_at,
            last_order_at=row.last_order_at,
        )
        for row in rows
        if row.order_count
    ]
    single = per_currency[0] if len(per_currency) == 1 else None
    return CustomerOrderSummary(
        customer_id=customer_id,
        order_count=sum(entry.order_count for entry in per_currency),
        cancelled_count=sum(row.cancelled_count for row in rows),
        currency=single.currency if single else None,
        net_revenue=single.net_revenue if single else None,
        average_order_value=single.average_order_value if single else None,
        first_order_at=min((entry.first_order_at for entry in per_currency), default=None),
        last_order_at=max((entry.last_order_at for entry in per_currency), default=None),
        by_currency=per_currency,
    )
