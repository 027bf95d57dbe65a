"""All SQL of the orders domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, String, and_, any_, bindparam, case, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.database import ORDER_LINE_FEED, feed_counter
from crm_orders.orders.models import Order, OrderLine, OrderStatusChange, Refund, RefundLine
from crm_shared.bulk import insert_rows
from crm_shared.db import dialect_of
from crm_shared.feed import take_positions

orders = Order.__table__  # type: ignore[attr-defined]
order_lines = OrderLine.__table__  # type: ignore[attr-defined]
status_changes = OrderStatusChange.__table__  # type: ignore[attr-defined]
refunds = Refund.__table__  # type: ignore[attr-defined]
refund_lines = RefundLine.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection

# Keys per IN list on SQLite: far below its limit of bind parameters (32766).
_IN_CHUNK = 5000


@dataclass(frozen=True)
class OrderFilters:
    customer_id: uuid.UUID | None = None
    status: str | None = None
    placed_after: dt.datetime | None = None
    placed_before: dt.datetime | None = None


async def next_line_positions(db: Db, count: int) -> int:
    """The first of `count` consecutive positions of the order-lines feed."""
    return await take_positions(db, feed_counter, ORDER_LINE_FEED, count)


async def order_with_external_ref(db: Db, external_ref: str) -> uuid.UUID | None:
    statement = select(orders.c.id).where(orders.c.external_ref == external_ref)
    found: uuid.UUID | None = (await db.execute(statement)).scalar_one_or_none()
    return found


async def stored_external_refs(db: Db, external_refs: Sequence[str]) -> set[str]:
    """Those of `external_refs` that orders already carry."""
    refs = list(external_refs)
    if not refs:
        return set()
    if dialect_of(db) == "postgresql":
        probe = orders.c.external_ref == any_(bindparam("refs", refs, ARRAY(String)))
        return set((await db.execute(select(orders.c.external_ref).where(probe))).scalars())
    found: set[str] = set()
    for start in range(0, len(refs), _IN_CHUNK):
        chunk = refs[start : start + _IN_CHUNK]
        statement = select(orders.c.external_ref).where(orders.c.external_ref.in_(chunk))
        found.update((await db.execute(statement)).scalars())
    return found


async def add_order(
    session: AsyncSession, order: Order, lines: list[OrderLine], change: OrderStatusChange
) -> None:
    session.add(order)
    await session.flush()
    session.add_all([*lines, change])
    await session.flush()


async def get_order_row(db: Db, order_id: uuid.UUID) -> Row[Any] | None:
    return (await db.execute(select(orders).where(orders.c.id == order_id))).first()


async def lock_order(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    """The order under a row lock: its changes are serialised, each sees the last."""
    statement = select(Order).where(orders.c.id == order_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lines_for_update(session: AsyncSession, order_id: uuid.UUID) -> list[OrderLine]:
    """The order's lines as objects to change (its order row is locked by the caller)."""
    statement = (
        select(OrderLine)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_number)
    )
    return list((await session.execute(statement)).scalars())


async def lines_of(db: Db, order_ids: Sequence[uuid.UUID]) -> list[Row[Any]]:
    """The lines of these orders, by order and line number."""
    ids = list(order_ids)
    if not ids:
        return []
    statement = (
        select(order_lines)
        .where(order_lines.c.order_id.in_(ids))
        .order_by(order_lines.c.order_id, order_lines.c.line_number)
    )
    return list((await db.execute(statement)).all())


async def status_changes_of(db: Db, order_id: uuid.UUID) -> list[Row[Any]]:
    statement = (
        select(status_changes)
        .where(status_changes.c.order_id == order_id)
        .order_by(status_changes.c.id)
    )
    return list((await db.execute(statement)).all())


async def refunds_of(db: Db, order_id: uuid.UUID) -> list[Row[Any]]:
    statement = select(refunds).where(refunds.c.order_id == order_id).order_by(refunds.c.id)
    return list((await db.execute(statement)).all())


async def refund_lines_of(db: Db, order_id: uuid.UUID) -> list[Row[Any]]:
    statement = (
        select(refund_lines)
        .join(refunds, refunds.c.id == refund_lines.c.refund_id)
        .join(order_lines, order_lines.c.id == refund_lines.c.order_line_id)
        .where(refunds.c.order_id == order_id)
        .order_by(refund_lines.c.refund_id, order_lines.c.line_number)
    )
    return list((await db.execute(statement)).all())


async def add_rows(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def list_rows(
    db: Db,
    filters: OrderFilters,
    *,
    before: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """One page of orders, newest first by (placed_at, id); fetches `limit + 1` rows."""
    statement = select(orders)
    if filters.customer_id is not None:
        statement = statement.where(orders.c.customer_id == filters.customer_id)
    if filters.status is not None:
        statement = statement.where(orders.c.status == filters.status)
    if filters.placed_after is not None:
        statement = statement.where(orders.c.placed_at >= filters.placed_after)
    if filters.placed_before is not None:
        statement = statement.where(orders.c.placed_at < filters.placed_before)
    if before is not None:
        placed_at, order_id = before
        statement = statement.where(
            or_(
                orders.c.placed_at < placed_at,
                and_(orders.c.placed_at == placed_at, orders.c.id < order_id),
            )
        )
    statement = statement.order_by(orders.c.placed_at.desc(), orders.c.id.desc()).limit(limit + 1)
    return (await db.execute(statement)).all()


async def customer_figures(db: Db, customer_id: uuid.UUID) -> list[Row[Any]]:
    """Per currency: the customer's orders that count (not cancelled) and their money."""
    counted = orders.c.status != "cancelled"
    statement = (
        select(
            orders.c.currency,
            func.count().filter(counted).label("order_count"),
            func.count().filter(~counted).label("cancelled_count"),
            func.sum(case((counted, orders.c.total - orders.c.refunded_total))).label(
                "net_revenue"
            ),
            func.min(case((counted, orders.c.placed_at))).label("first_order_at"),
            func.max(case((counted, orders.c.placed_at))).label("last_order_at"),
        )
        .where(orders.c.customer_id == customer_id)
        .group_by(orders.c.currency)
        .order_by(orders.c.currency)
    )
    return list((await db.execute(statement)).all())


# Columns of the rows an import writes, in the order its rows carry their values.
ORDER_COLUMNS = (
    "id customer_id external_ref status channel currency subtotal discount_total total "
    "refunded_total placed_at created_at updated_at"
).split()
LINE_COLUMNS = (
    "id order_id line_number product_id sku quantity unit_price discount line_total "
    "refunded_quantity refunded_amount change_position"
).split()
STATUS_CHANGE_COLUMNS = ["id", "order_id", "from_status", "to_status", "at"]
REFUND_COLUMNS = ["id", "order_id", "amount", "reason", "created_at"]
REFUND_LINE_COLUMNS = ["refund_id", "order_line_id", "quantity", "amount"]


async def insert_orders(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    await insert_rows(session, orders, ORDER_COLUMNS, rows)


async def insert_lines(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    await insert_rows(session, order_lines, LINE_COLUMNS, rows)


async def insert_status_changes(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    await insert_rows(session, status_changes, STATUS_CHANGE_COLUMNS, rows)


async def insert_refunds(
    session: AsyncSession, rows: Sequence[Sequence[Any]], line_rows: Sequence[Sequence[Any]]
) -> None:
    await insert_rows(session, refunds, REFUND_COLUMNS, rows)
    await insert_rows(session, refund_lines, REFUND_LINE_COLUMNS, line_rows)
