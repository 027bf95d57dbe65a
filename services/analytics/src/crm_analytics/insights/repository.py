"""All SQL of insights: what a run reads from the copies, its stored results, and reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, String, and_, cast, delete, func, insert, or_, select

from crm_analytics.database import Db, Rows
from crm_analytics.insights.models import basket_rules, customer_referrals
from crm_analytics.runs.models import customer_scores
from crm_analytics.sync.models import LIVE, customers, order_lines

INSERT_BATCH = 2000

_SHOWN = or_(customers.c.status.is_(None), customers.c.status == LIVE)


async def basket_lines(db: Db, until: dt.datetime) -> Rows:
    """Order and product of each line of orders placed before `until` that was neither
    cancelled nor refunded in full; ids as text, the form the counting takes."""
    statement = select(
        cast(order_lines.c.order_id, String).label("order_id"),
        cast(order_lines.c.product_id, String).label("product_id"),
    ).where(
        order_lines.c.product_id.is_not(None),
        order_lines.c.order_status.not_in(("cancelled", "refunded")),
        order_lines.c.quantity > order_lines.c.refunded_quantity,
        order_lines.c.placed_at < until,
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def referral_customers(db: Db) -> Rows:
    """Every customer who was referred or referred someone, or is not live (merges to
    follow, departures to drop); ids as text, the form scoring's order lines give them."""
    referred = customers.alias("referred")
    named = select(referred.c.referred_by).where(referred.c.referred_by.is_not(None))
    statement = select(
        cast(customers.c.id, String).label("id"),
        customers.c.status,
        cast(customers.c.merged_into, String).label("merged_into"),
        cast(customers.c.referred_by, String).label("referred_by"),
    ).where(
        or_(
            customers.c.referred_by.is_not(None),
            customers.c.status != LIVE,
            customers.c.id.in_(named),
        )
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def add_basket_rules(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(basket_rules), list(rows))


async def add_referrals(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(customer_referrals), list(rows))


async def drop_results(db: Db, run_ids: Sequence[uuid.UUID]) -> None:
    if run_ids:
        await db.execute(delete(basket_rules).where(basket_rules.c.run_id.in_(run_ids)))
        await db.execute(delete(customer_referrals).where(customer_referrals.c.run_id.in_(run_ids)))


def _below(columns: Sequence[ColumnElement[Any]], after: Sequence[Any]) -> ColumnElement[bool]:
    """Keyset condition for the order (first column descending, the others ascending)."""
    first, *rest = columns
    value, *rest_values = after
    condition: ColumnElement[bool] = first < value
    tie: list[ColumnElement[bool]] = [first == value]
    for column, key in zip(rest, rest_values, strict=True):
        condition = or_(condition, and_(*tie, column > key))
        tie.append(column == key)
    return condition


async def rules(
    db: Db,
    run_id: uuid.UUID,
    *,
    sort: str,
    antecedent_id: uuid.UUID | None,
    consequent_id: uuid.UUID | None,
    min_lift: float | None,
    min_confidence: float | None,
    min_support: float | None,
    min_orders: int | None,
    after: tuple[float, uuid.UUID, uuid.UUID] | None,
    limit: int,
) -> Rows:
    """Best `sort` first, then by product ids; `limit + 1` rows."""
    key = basket_rules.c[sort]
    statement = select(basket_rules).where(basket_rules.c.run_id == run_id)
    if antecedent_id is not None:
        statement = statement.where(basket_rules.c.antecedent_id == antecedent_id)
    if consequent_id is not None:
        statement = statement.where(basket_rules.c.consequent_id == consequent_id)
    if min_lift is not None:
        statement = statement.where(basket_rules.c.lift >= min_lift)
    if min_confidence is not None:
        statement = statement.where(basket_rules.c.confidence >= min_confidence)
    if min_support is not None:
        statement = statement.where(basket_rules.c.support >= min_support)
    if min_orders is not None:
        statement = statement.where(basket_rules.c.orders >= min_orders)
    if after is not None:
        statement = statement.where(
            _below([key, basket_rules.c.antecedent_id, basket_rules.c.consequent_id], after)
        )
    statement = statement.order_by(
        key.desc(), basket_rules.c.antecedent_id, basket_rules.c.consequent_id
    ).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


_REFERRALS = customer_referrals.outerjoin(
    customers, customers.c.id == customer_referrals.c.customer_id
)


async def customer_referral(db: Db, run_id: uuid.UUID, customer_id: uuid.UUID) -> Row[Any] | None:
    statement = (
        select(customer_referrals)
        .select_from(_REFERRALS)
        .where(
            customer_referrals.c.run_id == run_id,
            customer_referrals.c.customer_id == customer_id,
            _SHOWN,
        )
    )
    row: Row[Any] | None = (await db.execute(statement)).first()
    return row


async def referrals(
    db: Db,
    run_id: uuid.UUID,
    *,
    sort: str,
    min_direct: int | None,
    after: tuple[float, uuid.UUID] | None,
    limit: int,
) -> Rows:
    """Highest `sort` first, then by customer id; deleted and erased customers hidden."""
    key = customer_referrals.c[sort]
    statement = (
        select(customer_referrals)
        .select_from(_REFERRALS)
        .where(customer_referrals.c.run_id == run_id, _SHOWN)
    )
    if min_direct is not None:
        statement = statement.where(customer_referrals.c.referrals_direct >= min_direct)
    if after is not None:
        statement = statement.where(_below([key, customer_referrals.c.customer_id], after))
    statement = statement.order_by(key.desc(), customer_referrals.c.customer_id).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


def _referral_of_scored(column: str) -> ColumnElement[Any]:
    """The scored customer's value in the same run; 0 outside the referral graph."""
    value = (
        select(customer_referrals.c[column])
        .where(
            customer_referrals.c.run_id == customer_scores.c.run_id,
            customer_referrals.c.customer_id == customer_scores.c.customer_id,
        )
        .scalar_subquery()
    )
    return func.coalesce(value, 0)


# Segment rule fields, for the rows of `customer_scores` a segment is chosen from.
REFERRAL_RULE_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: _referral_of_scored(name)
    for name in (
        "referrals_direct",
        "referrals_downstream",
        "referral_revenue",
        "referral_influence",
    )
}
