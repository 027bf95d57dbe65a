"""The shop's orders and revenue over time, by week or month: one SQL aggregate per call."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, Row, distinct, func, select

from crm_orders.orders.repository import Db, orders
from crm_shared.db import dialect_of
from crm_shared.deps import ReaderDep
from crm_shared.errors import Unprocessable, problem_responses
from crm_shared.schemas.orders import SalesInterval, SalesPeriod, SalesSummary
from crm_shared.types import quantize_money

MAX_PERIODS = 520
DEFAULT_PERIODS = {SalesInterval.week: 52, SalesInterval.month: 24}

router = APIRouter(prefix="/v1", tags=["orders"])


class WindowOutOfRange(Unprocessable):
    slug = "window-out-of-range"
    title = "The window reaches past the calendar"


def period_start(day: dt.date, interval: SalesInterval) -> dt.date:
    """The Monday of the day's ISO week, or the first day of its month."""
    if interval is SalesInterval.week:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: dt.date, interval: SalesInterval) -> dt.date:
    if interval is SalesInterval.week:
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _shift_back(start: dt.date, interval: SalesInterval, periods: int) -> dt.date:
    if interval is SalesInterval.week:
        return start - dt.timedelta(weeks=periods)
    months = start.year * 12 + start.month - 1 - periods
    return dt.date(months // 12, months % 12 + 1, 1)


def _bucket(db: Db, interval: SalesInterval) -> ColumnElement[Any]:
    """The period start of an order's `placed_at`, in UTC, as the database spells it."""
    if dialect_of(db) == "postgresql":
        return func.date_trunc(interval.value, func.timezone("UTC", orders.c.placed_at))
    # SQLite keeps naive UTC text: 'weekday 0' moves to the coming Sunday, -6 days to Monday.
    if interval is SalesInterval.week:
        return func.date(orders.c.placed_at, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", orders.c.placed_at)


def _as_date(value: dt.datetime | dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value[:10])


async def _last_order_day(db: Db) -> dt.date | None:
    """The day of the latest order (the `ix_orders_placed_at` index answers it)."""
    latest: dt.datetime | str | None = (
        await db.execute(select(func.max(orders.c.placed_at)))
    ).scalar_one_or_none()
    # SQLite answers an aggregate of the column as text.
    return None if latest is None else _as_date(latest)


async def _period_rows(
    db: Db, interval: SalesInterval, start: dt.datetime, end: dt.datetime
) -> list[Row[Any]]:
    bucket = _bucket(db, interval).label("period")
    statement = (
        select(
            bucket,
            orders.c.currency,
            func.count().label("orders"),
            func.count(distinct(orders.c.customer_id)).label("customers"),
            func.sum(orders.c.total - orders.c.refunded_total).label("net_revenue"),
        )
        .where(
            orders.c.placed_at >= start,
            orders.c.placed_at < end,
            orders.c.status != "cancelled",
        )
        .group_by(bucket, orders.c.currency)
    )
    return list((await db.execute(statement)).all())


async def _window_customers(db: Db, start: dt.datetime, end: dt.datetime) -> int:
    statement = select(func.count(distinct(orders.c.customer_id))).where(
        orders.c.placed_at >= start,
        orders.c.placed_at < end,
        orders.c.status != "cancelled",
    )
    return int((await db.execute(statement)).scalar_one())


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def sales_summary(
    db: Db, interval: SalesInterval, periods: int | None, until: dt.date | None
) -> SalesSummary:
    """`periods` periods of `interval`, the last one holding `until` (default: the day of
    the latest order, or today when there is none)."""
    count = periods or DEFAULT_PERIODS[interval]
    last_day = until or await _last_order_day(db) or dt.datetime.now(dt.UTC).date()
    last_start = period_start(last_day, interval)
    try:
        start = _shift_back(last_start, interval, count - 1)
        end = next_period(last_start, interval)
    except (OverflowError, ValueError):
        raise WindowOutOfRange(
            f"{count} {interval.value}s up to {last_day} reach before year 1 or past year "
            "9999: ask for fewer periods or another `until`.",
            field="until",
        ) from None
    rows = await _period_rows(db, interval, _midnight(start), _midnight(end))
    found = {(_as_date(row.period), row.currency): row for row in rows}
    currencies = sorted({currency for _, currency in found})
    items: list[SalesPeriod] = []
    current = start
    while current < end:
        for currency in currencies:
            row = found.get((current, currency))
            revenue = Decimal(row.net_revenue) if row is not None else Decimal(0)
            items.append(
                SalesPeriod(
                    period_start=current,
                    currency=currency,
                    orders=row.orders if row is not None else 0,
                    customers=row.customers if row is not None else 0,
                    net_revenue=quantize_money(revenue, currency),
                )
            )
        current = next_period(current, interval)
    return SalesSummary(
        interval=interval,
        start=start,
        end=end,
        currencies=currencies,
        orders=sum(row.orders for row in rows),
        customers=await _window_customers(db, _midnight(start), _midnight(end)) if rows else 0,
        periods=items,
    )


@router.get(
    "/orders/summary",
    response_model=SalesSummary,
    responses=problem_responses(422),
    summary="Orders, customers and net revenue per week or month",
)
async def get_sales_summary(
    db: ReaderDep,
    interval: SalesInterval = Query(SalesInterval.month, description="`week` or `month`."),
    periods: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PERIODS,
            description="How many periods, the last one included (default 52 weeks or 24 months).",
        ),
    ] = None,
    until: Annotated[
        dt.date | None,
        Query(
            description="A day (UTC) inside the last period; default: the day of the latest order."
        ),
    ] = None,
) -> SalesSummary:
    """Aggregated in the database over the window: for each period and currency the orders
    placed (cancelled ones left out), the distinct customers who placed them and the net
    revenue (total - refunded_total). Weeks start on Monday; periods are in UTC. Periods
    without orders are listed with zeros."""
    return await sales_summary(db, interval, periods, until)
