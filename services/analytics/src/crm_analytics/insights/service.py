"""Insights of a run (basket rules, referral influence): computed off the event loop from
the copies, stored under the run's id, and read from the current run."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.database import Db, Rows
from crm_analytics.freshness import Freshness
from crm_analytics.insights import repository
from crm_analytics.insights.basket import RULE_COLUMNS, BasketParameters, basket_rules
from crm_analytics.insights.referrals import (
    REFERRAL_COLUMNS,
    ReferralParameters,
    referral_influence,
)
from crm_analytics.settings import AnalyticsSettings
from crm_shared.db import Database
from crm_shared.errors import InvalidCursor, NotFound
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.schemas.analytics import (
    BasketRule,
    BasketRuleSort,
    BoughtTogether,
    CustomerReferrals,
    ReferralSort,
)
from crm_shared.schemas.common import Page

OffLoop = Callable[..., Awaitable[Any]]


class ReferralsNotFound(NotFound):
    slug = "referrals-not-found"
    title = "The customer is not in the referral graph"


# --- computing in a run --------------------------------------------------------------------


@dataclass(frozen=True)
class Insights:
    rules: pd.DataFrame
    referrals: pd.DataFrame
    report: dict[str, Any]


def compute_insights(
    baskets: pd.DataFrame,
    referral_customers: pd.DataFrame,
    revenue: pd.Series,
    basket: BasketParameters,
    referral: ReferralParameters,
) -> Insights:
    """Both insights on the worker; one that fails is reported and left empty, it never
    fails the run."""
    report: dict[str, Any] = {}
    rules = pd.DataFrame(columns=list(RULE_COLUMNS))
    referrals = pd.DataFrame(columns=list(REFERRAL_COLUMNS))
    try:
        found = basket_rules(baskets, basket)
        rules, report["basket"] = found.rules, found.report
    except Exception as error:
        report["basket"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
    try:
        influence = referral_influence(referral_customers, revenue, referral)
        referrals, report["referrals"] = influence.referrals, influence.report
    except Exception as error:
        report["referrals"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
    return Insights(rules, referrals, report)


def basket_parameters(settings: AnalyticsSettings) -> BasketParameters:
    return BasketParameters(
        min_support=settings.basket_min_support,
        min_orders=settings.basket_min_orders,
        min_confidence=settings.basket_min_confidence,
        min_lift=settings.basket_min_lift,
        max_rules=settings.basket_max_rules,
    )


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


async def build_insights(
    database: Database,
    run_id: uuid.UUID,
    lines: pd.DataFrame,
    until: dt.datetime,
    settings: AnalyticsSettings,
    off_loop: OffLoop,
) -> dict[str, Any]:
    """Compute the run's insights from the copies and store them under `run_id`; returns
    the report for the run's fit. `lines` are the run's scorable lines, each already with
    the customer who holds it now: the revenue the referral graph sums."""
    async with database.engine.connect() as db:
        basket_rows = await repository.basket_lines(db, until)
        customer_rows = await repository.referral_customers(db)
    baskets = pd.DataFrame.from_records(basket_rows, columns=["order_id", "product_id"])
    referral_customers = pd.DataFrame.from_records(
        customer_rows, columns=["id", "status", "merged_into", "referred_by"]
    )
    if lines.empty:
        revenue = pd.Series(dtype=np.float64)
    else:
        revenue = lines.groupby("customer_id")["amount"].sum()
    insights: Insights = await off_loop(
        compute_insights,
        baskets,
        referral_customers,
        revenue,
        basket_parameters(settings),
        ReferralParameters(damping=settings.referral_damping),
    )
    rule_rows = [
        {
            "run_id": run_id,
            "antecedent_id": uuid.UUID(str(rule.antecedent_id)),
            "consequent_id": uuid.UUID(str(rule.consequent_id)),
            "orders": int(rule.orders),
            "antecedent_orders": int(rule.antecedent_orders),
            "consequent_orders": int(rule.consequent_orders),
            "support": _finite(rule.support),
            "confidence": _finite(rule.confidence),
            "lift": _finite(rule.lift),
        }
        for rule in insights.rules[list(RULE_COLUMNS)].itertuples(index=False)
    ]
    referral_rows = [
        {
            "run_id": run_id,
            "customer_id": uuid.UUID(str(customer_id)),
            "referrals_direct": int(direct),
            "referrals_downstream": int(downstream),
            "referral_revenue": _finite(money),
            "referral_influence": _finite(influence),
        }
        for customer_id, direct, downstream, money, influence in insights.referrals[
            list(REFERRAL_COLUMNS)
        ].itertuples(index=True)
    ]
    for start in range(0, len(rule_rows), repository.INSERT_BATCH):
        async with database.writer() as db:
            await repository.add_basket_rules(
                db, rule_rows[start : start + repository.INSERT_BATCH]
            )
    for start in range(0, len(referral_rows), repository.INSERT_BATCH):
        async with database.writer() as db:
            await repository.add_referrals(
                db, referral_rows[start : start + repository.INSERT_BATCH]
            )
    return insights.report


# --- reads ---------------------------------------------------------------------------------


def _rule(row: Any) -> BasketRule:
    return BasketRule.model_validate(row._asdict())


def _after_rule(cursor: str | None, sort: str) -> tuple[float, uuid.UUID, uuid.UUID] | None:
    if cursor is None:
        return None
    kind, value, antecedent, consequent = decode_cursor(cursor, 4)
    try:
        if kind != sort:
            raise ValueError(kind)
        return float(value), uuid.UUID(str(antecedent)), uuid.UUID(str(consequent))
    except (TypeError, ValueError) as error:
        raise InvalidCursor("The cursor does not belong to this list.") from error


async def list_rules(
    db: Db,
    fresh: Freshness,
    *,
    sort: BasketRuleSort,
    product_id: uuid.UUID | None,
    consequent_id: uuid.UUID | None,
    min_lift: float | None,
    min_confidence: float | None,
    min_support: float | None,
    min_orders: int | None,
    limit: int,
    cursor: str | None,
) -> Page[BasketRule]:
    after = _after_rule(cursor, sort.value)
    if fresh.run is None:
        return Page[BasketRule](items=[], next_cursor=None)
    rows = await repository.rules(
        db,
        fresh.run.id,
        sort=sort.value,
        antecedent_id=product_id,
        consequent_id=consequent_id,
        min_lift=min_lift,
        min_confidence=min_confidence,
        min_support=min_support,
        min_orders=min_orders,
        after=after,
        limit=limit,
    )
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page[BasketRule](
        items=[_rule(row) for row in rows[:limit]],
        next_cursor=encode_cursor(
            [
                sort.value,
                getattr(last, sort.value),
                str(last.antecedent_id),
                str(last.consequent_id),
            ]
        )
        if last is not None
        else None,
    )


async def bought_together(
    db: Db, fresh: Freshness, product_id: uuid.UUID, sort: BasketRuleSort, limit: int
) -> BoughtTogether:
    """The products most often bought with `product_id`; none when it is in no rule."""
    rows: Rows = []
    if fresh.run is not None:
        rows = await repository.rules(
            db,
            fresh.run.id,
            sort=sort.value,
            antecedent_id=product_id,
            consequent_id=None,
            min_lift=None,
            min_confidence=None,
            min_support=None,
            min_orders=None,
            after=None,
            limit=limit,
        )
    return BoughtTogether(
        product_id=product_id,
        run_id=fresh.run.id if fresh.run is not None else None,
        sort=sort,
        items=[_rule(row) for row in rows[:limit]],
    )


def _referral(row: Any) -> CustomerReferrals:
    return CustomerReferrals.model_validate(row._asdict())


async def customer_referrals(db: Db, fresh: Freshness, customer_id: uuid.UUID) -> CustomerReferrals:
    """404 for a customer outside the referral graph (never referred nor referring),
    unknown, deleted, erased or merged, or before the first run."""
    row = None
    if fresh.run is not None:
        row = await repository.customer_referral(db, fresh.run.id, customer_id)
    if row is None:
        raise ReferralsNotFound(
            f"Customer {customer_id} is not in the referral graph of the current run.",
            customer_id=str(customer_id),
        )
    return _referral(row)


async def list_referrals(
    db: Db,
    fresh: Freshness,
    *,
    sort: ReferralSort,
    min_direct: int | None,
    limit: int,
    cursor: str | None,
) -> Page[CustomerReferrals]:
    after: tuple[float, uuid.UUID] | None = None
    if cursor is not None:
        kind, value, customer_id = decode_cursor(cursor, 3)
        try:
            if kind != sort.value:
                raise ValueError(kind)
            after = (float(value), uuid.UUID(str(customer_id)))
        except (TypeError, ValueError) as error:
            raise InvalidCursor("The cursor does not belong to this list.") from error
    if fresh.run is None:
        return Page[CustomerReferrals](items=[], next_cursor=None)
    rows = await repository.referrals(
        db, fresh.run.id, sort=sort.value, min_direct=min_direct, after=after, limit=limit
    )
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page[CustomerReferrals](
        items=[_referral(row) for row in rows[:limit]],
        next_cursor=encode_cursor([sort.value, getattr(last, sort.value), str(last.customer_id)])
        if last is not None
        else None,
    )
