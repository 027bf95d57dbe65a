"""Wire schemas of the gateway: API keys and the composite customer 360 read."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.schemas.customers import CustomerRead
from crm_shared.schemas.tickets import TicketRead
from crm_shared.types import ShortText


class ApiKeyRole(StrEnum):
    """What a key may do; the scopes of each role are listed in the gateway's docs."""

    storefront = "storefront"
    backoffice = "backoffice"
    marketing = "marketing"
    admin = "admin"


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(description="Who or what uses the key, e.g. `web storefront`.")
    role: ApiKeyRole


class ApiKeyRead(BaseModel):
    id: str = Field(description="The public part of the key, embedded in it after `crm_`.")
    name: str
    role: ApiKeyRole
    created_by: str | None = Field(description="Id of the admin key that created it.")
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The key to send as `Authorization: Bearer <key>` or `X-API-Key`. "
        "Shown only in this answer: the gateway keeps only a hash of it."
    )


class PartName(StrEnum):
    open_tickets = "open_tickets"
    order_summary = "order_summary"
    scores = "scores"
    recommendations = "recommendations"


class UnavailableReason(StrEnum):
    upstream_unavailable = "upstream-unavailable"
    upstream_timeout = "upstream-timeout"
    not_available = "not-available"
    upstream_error = "upstream-error"


class UnavailablePart(BaseModel):
    """A part of a composite read that could not be included, and why."""

    part: PartName
    service: str
    reason: UnavailableReason
    detail: str


class Customer360(BaseModel):
    """A customer with what every service knows about them, gathered concurrently.

    A part whose service is down or does not offer it yet is null and listed in
    `unavailable`; `partial` is then true.
    """

    customer: CustomerRead
    open_tickets: list[TicketRead] | None = Field(
        description="Tickets with status open or pending, newest first."
    )
    order_summary: dict[str, Any] | None = Field(
        description="The orders service's summary of the customer's orders, as it answers it."
    )
    scores: dict[str, Any] | None = Field(
        description="The analytics service's scores and segments of the customer."
    )
    recommendations: dict[str, Any] | list[Any] | None = Field(
        description="The customer's top recommendations, as the recommendation service answers."
    )
    partial: bool
    unavailable: list[UnavailablePart]
