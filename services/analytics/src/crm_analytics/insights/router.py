"""HTTP routes of insights: basket rules, frequently bought together, referral influence."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from crm_analytics.freshness import fresh_responses
from crm_analytics.insights import service
from crm_analytics.scores.service import freshness
from crm_shared.deps import ReaderDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.analytics import (
    BasketRule,
    BasketRuleSort,
    BoughtTogether,
    CustomerReferrals,
    ReferralSort,
)
from crm_shared.schemas.common import Page

# Counts are 32-bit integers in the database: a larger minimum is refused, not sent.
MAX_COUNT = 2**31 - 1
router = APIRouter(prefix="/v1/insights", tags=["insights"])


@router.get(
    "/basket-rules",
    response_model=Page[BasketRule],
    responses={**fresh_responses("A page of basket rules"), **problem_responses(400, 422)},
    summary="List the basket rules of the current run",
)
async def list_basket_rules(
    db: ReaderDep,
    page: PageDep,
    response: Response,
    sort: BasketRuleSort = Query(
        BasketRuleSort.lift, description="Highest first; ties by product ids."
    ),
    product_id: uuid.UUID | None = Query(None, description="Only rules from this product."),
    consequent_id: uuid.UUID | None = Query(None, description="Only rules to this product."),
    min_lift: float | None = Query(None, ge=0, description="Only rules with at least this lift."),
    min_confidence: float | None = Query(
        None, ge=0, le=1, description="Only rules with at least this confidence."
    ),
    min_support: float | None = Query(
        None, ge=0, le=1, description="Only rules with at least this support."
    ),
    min_orders: int | None = Query(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Only rules whose two products share at least this many orders.",
    ),
) -> Page[BasketRule]:
    """Association rules between two products found in the current run, over orders not
    cancelled and lines not refunded in full; the run's minimums (settings
    `basket_min_*`) already apply. A cursor only continues the list in the order it was
    made for (400 `invalid-cursor` otherwise)."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.list_rules(
        db,
        fresh,
        sort=sort,
        product_id=product_id,
        consequent_id=consequent_id,
        min_lift=min_lift,
        min_confidence=min_confidence,
        min_support=min_support,
        min_orders=min_orders,
        limit=page.limit,
        cursor=page.cursor,
    )


@router.get(
    "/products/{product_id}/bought-together",
    response_model=BoughtTogether,
    responses={**fresh_responses("The products bought with it"), **problem_responses(422)},
    summary="Products frequently bought together with a product",
)
async def bought_together(
    product_id: Annotated[uuid.UUID, Path(description="The product's id.")],
    db: ReaderDep,
    response: Response,
    sort: BasketRuleSort = Query(
        BasketRuleSort.confidence,
        description="`confidence`: the most likely companions; `lift`: the most telling.",
    ),
    limit: int = Query(10, ge=1, le=100, description="Products to return at most."),
) -> BoughtTogether:
    """The consequents of the product's basket rules in the current run, best first. An
    empty list for a product in no rule (rarely bought, or not bought with anything more
    often than by chance)."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.bought_together(db, fresh, product_id, sort, limit)


@router.get(
    "/referrals",
    response_model=Page[CustomerReferrals],
    responses={**fresh_responses("A page of the referral ranking"), **problem_responses(400, 422)},
    summary="Rank customers by referral influence",
)
async def list_referrals(
    db: ReaderDep,
    page: PageDep,
    response: Response,
    sort: ReferralSort = Query(
        ReferralSort.referral_influence, description="Highest first; ties by customer id."
    ),
    min_direct: int | None = Query(
        None,
        ge=0,
        le=MAX_COUNT,
        description="Only customers who referred at least this many themselves.",
    ),
) -> Page[CustomerReferrals]:
    """Customers of the current run's referral graph (who referred someone or were
    referred), deleted and erased ones left out, merged ones counted in their survivor."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.list_referrals(
        db, fresh, sort=sort, min_direct=min_direct, limit=page.limit, cursor=page.cursor
    )


@router.get(
    "/referrals/{customer_id}",
    response_model=CustomerReferrals,
    responses={**fresh_responses("The customer's referrals"), **problem_responses(404, 422)},
    summary="Read a customer's referral influence",
)
async def get_customer_referrals(
    customer_id: Annotated[uuid.UUID, Path(description="The customer's id.")],
    db: ReaderDep,
    response: Response,
) -> CustomerReferrals:
    """Direct and downstream referrals, their revenue and the influence score in the
    current run. 404 `referrals-not-found` for a customer outside the referral graph,
    unknown, deleted, erased or merged, or before the first run."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.customer_referrals(db, fresh, customer_id)
