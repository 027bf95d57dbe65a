"""Gathers a customer's profile, tickets, orders, scores and recommendations concurrently.

Only the profile is essential: an unknown customer is a 404 and an unreachable customer
service a 503. Every other part degrades to null, listed in `unavailable` with a reason.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from crm_gateway.customer360.errors import CustomerNotFound, ProfileInvalid, ProfileUnavailable
from crm_gateway.upstreams.client import CircuitOpen, Upstreams
from crm_gateway.upstreams.http11 import UpstreamFailure, UpstreamTimeout
from crm_shared.schemas.customers import CustomerRead
from crm_shared.schemas.gateway import Customer360, PartName, UnavailablePart, UnavailableReason
from crm_shared.schemas.tickets import TicketRead

OPEN_TICKETS_PER_STATUS = 20
TOP_RECOMMENDATIONS = 5
_NOT_OFFERED = frozenset({404, 405, 501})


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any


@dataclass(frozen=True)
class _Missing:
    service: str
    reason: UnavailableReason
    detail: str


async def _get(
    upstreams: Upstreams, service: str, target: str, timeout_seconds: float
) -> _Answer | _Missing:
    upstream = upstreams.get(service)
    if upstream is None:
        return _Missing(service, UnavailableReason.upstream_unavailable, "not configured")
    try:
        async with asyncio.timeout(timeout_seconds):
            status, body = await upstream.get_json(target, timeout_seconds=timeout_seconds)
    except (UpstreamTimeout, TimeoutError):
        return _Missing(
            service, UnavailableReason.upstream_timeout, f"no answer in {timeout_seconds} s"
        )
    except (UpstreamFailure, CircuitOpen) as exc:
        return _Missing(service, UnavailableReason.upstream_unavailable, str(exc))
    except ValueError:
        return _Missing(service, UnavailableReason.upstream_error, "the answer is not JSON")
    return _Answer(status, body)


def _part(
    name: PartName, fetched: _Answer | _Missing, service: str, missing: list[UnavailablePart]
) -> Any:
    """The part's body, or None with the reason added to `missing`."""
    if isinstance(fetched, _Missing):
        missing.append(UnavailablePart(part=name, **fetched.__dict__))
        return None
    if fetched.status == 200:
        return fetched.body
    reason = (
        UnavailableReason.not_available
        if fetched.status in _NOT_OFFERED
        else UnavailableReason.upstream_error
    )
    missing.append(
        UnavailablePart(
            part=name, service=service, reason=reason, detail=f"answered {fetched.status}"
        )
    )
    return None


async def customer_360(
    upstreams: Upstreams, customer_id: uuid.UUID, timeout_seconds: float
) -> Customer360:
    base = f"/v1/customers/{customer_id}"
    tickets = f"{base}/tickets?limit={OPEN_TICKETS_PER_STATUS}&status="
    profile, open_tickets, pending_tickets, orders, scores, recommendations = await asyncio.gather(
        _get(upstreams, "customer", base, timeout_seconds),
        _get(upstreams, "customer", tickets + "open", timeout_seconds),
        _get(upstreams, "customer", tickets + "pending", timeout_seconds),
        _get(upstreams, "orders", f"{base}/orders/summary", timeout_seconds),
        _get(upstreams, "analytics", f"{base}/scores", timeout_seconds),
        _get(
            upstreams,
            "recommend",
            f"/v1/recommendations/{customer_id}?limit={TOP_RECOMMENDATIONS}",
            timeout_seconds,
        ),
    )
    customer = _profile(profile, customer_id)
    missing: list[UnavailablePart] = []
    ticket_items = _part(
        PartName.open_tickets, _both(open_tickets, pending_tickets), "customer", missing
    )
    order_summary = _part(PartName.order_summary, orders, "orders", missing)
    customer_scores = _part(PartName.scores, scores, "analytics", missing)
    top = _part(PartName.recommendations, recommendations, "recommend", missing)
    return Customer360(
        customer=customer,
        open_tickets=_tickets(ticket_items, missing),
        order_summary=order_summary if isinstance(order_summary, dict) else None,
        scores=customer_scores if isinstance(customer_scores, dict) else None,
        recommendations=top,
        partial=bool(missing),
        unavailable=missing,
    )


def _both(first: _Answer | _Missing, second: _Answer | _Missing) -> _Answer | _Missing:
    """Two pages of tickets as one answer; if either failed, the failure (a half list would
    look complete)."""
    items = []
    for fetched in (first, second):
        if isinstance(fetched, _Missing) or fetched.status != 200:
            return fetched
        try:
            items.extend(fetched.body["items"])
        except (KeyError, TypeError):
            return _Missing("customer", UnavailableReason.upstream_error, "not a page of tickets")
    return _Answer(200, items)


def _profile(fetched: _Answer | _Missing, customer_id: uuid.UUID) -> CustomerRead:
    if isinstance(fetched, _Missing):
        raise ProfileUnavailable(
            f"The customer service is unavailable ({fetched.detail}).", upstream="customer"
        )
    if fetched.status == 404:
        raise CustomerNotFound(f"There is no customer {customer_id}.")
    if fetched.status != 200:
        raise ProfileInvalid(f"The customer service answered {fetched.status}.")
    try:
        return CustomerRead.model_validate(fetched.body)
    except ValidationError as exc:
        raise ProfileInvalid("The customer service's answer does not match its schema.") from exc


def _tickets(items: Any, missing: list[UnavailablePart]) -> list[TicketRead] | None:
    if items is None:
        return None
    try:
        found = [TicketRead.model_validate(item) for item in items]
    except ValidationError:
        missing.append(
            UnavailablePart(
                part=PartName.open_tickets,
                service="customer",
                reason=UnavailableReason.upstream_error,
                detail="the answer does not match the tickets schema",
            )
        )
        return None
    return sorted(found, key=lambda ticket: ticket.created_at, reverse=True)
