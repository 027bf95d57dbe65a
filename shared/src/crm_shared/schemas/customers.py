"""Wire schemas of the customer service: customers, consent, tags, import, export, GDPR."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.schemas.common import FieldError
from crm_shared.schemas.tickets import TicketDetail
from crm_shared.types import (
    CountryCode,
    Email,
    ExternalRef,
    LineText,
    Locale,
    PastUtcDatetime,
    Phone,
    ShortText,
    Tag,
)


class LifecycleStage(StrEnum):
    prospect = "prospect"
    new = "new"
    active = "active"
    at_risk = "at_risk"
    churned = "churned"


class ConsentChannel(StrEnum):
    email = "email"
    sms = "sms"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(_Input):
    line1: LineText | None = None
    line2: LineText | None = None
    city: ShortText | None = None
    postal_code: ShortText | None = Field(None, max_length=20)
    region: ShortText | None = None
    country: CountryCode | None = None


class ConsentUpdate(_Input):
    """A customer's marketing consent on one channel, as given or withdrawn."""

    granted: bool
    source: ShortText = Field(description="Where it was given, e.g. `checkout`, `import`.")
    recorded_at: PastUtcDatetime | None = Field(
        None, description="When the customer gave or withdrew it; now when omitted."
    )


class ConsentIn(ConsentUpdate):
    channel: ConsentChannel


class Consent(BaseModel):
    channel: ConsentChannel
    granted: bool
    source: str
    recorded_at: dt.datetime


class CustomerCreate(_Input):
    external_ref: ExternalRef | None = Field(None, description="The shop's own id; unique.")
    email: Email | None = Field(None, description="Unique, compared case-insensitively.")
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = None
    address: Address | None = None
    locale: Locale | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.new
    referred_by: uuid.UUID | None = Field(None, description="The customer who referred this one.")
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    consents: list[ConsentIn] = Field(default_factory=list, max_length=2)

    @model_validator(mode="after")
    def _identifiable(self) -> CustomerCreate:
        if self.email is None and self.external_ref is None:
            raise ValueError("a customer needs an email or an external_ref")
        channels = [consent.channel for consent in self.consents]
        if len(channels) != len(set(channels)):
            raise ValueError("consents: one entry per channel")
        return self


class CustomerUpdate(_Input):
    """Fields to change; omitted fields stay, `null` clears an optional field."""

    external_ref: ExternalRef | None = None
    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = None
    address: Address | None = None
    locale: Locale | None = None
    lifecycle_stage: LifecycleStage | None = None
    referred_by: uuid.UUID | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        if "lifecycle_stage" in self.model_fields_set and self.lifecycle_stage is None:
            raise ValueError("lifecycle_stage cannot be cleared")
        return self


class CustomerRead(BaseModel):
    id: uuid.UUID
    external_ref: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    address: Address
    locale: str | None
    lifecycle_stage: LifecycleStage
    referred_by: uuid.UUID | None
    tags: list[str]
    consents: list[Consent]
    created_at: dt.datetime
    updated_at: dt.datetime


class TagsUpdate(_Input):
    tags: list[Tag] = Field(min_length=1, max_length=50)


class TagCount(BaseModel):
    tag: str
    customers: int


class TimelineEvent(BaseModel):
    id: uuid.UUID
    at: dt.datetime
    kind: str = Field(
        description=(
            "created, updated, deleted, tagged, untagged, consent_changed, referred, merged, "
            "merged_into, ticket_opened, ticket_status_changed, ticket_note_added, erased"
        )
    )
    data: dict[str, Any]


class ChangeKind(StrEnum):
    upsert = "upsert"
    deleted = "deleted"
    merged = "merged"
    erased = "erased"


class CustomerChange(BaseModel):
    """One line of the export feed: the state of a customer after its latest change."""

    position: int = Field(description="Monotonic feed position; resume with `?cursor=` it.")
    change: ChangeKind
    id: uuid.UUID
    merged_into: uuid.UUID | None = Field(
        None, description="For `merged`: the surviving customer that now holds this history."
    )
    changed_at: dt.datetime
    customer: CustomerRead | None = Field(None, description="The current state; null once erased.")


class ImportErrorPolicy(StrEnum):
    abort = "abort"
    skip = "skip"


class ImportRowError(BaseModel):
    row: int = Field(description="1-based data row number (the CSV header is not counted).")
    errors: list[FieldError]


class ImportReport(BaseModel):
    received: int
    inserted: int
    updated: int
    rejected: int
    committed: bool = Field(description="False when `on_error=abort` refused the batch.")
    errors: list[ImportRowError] = Field(
        description="Per-row errors, the first 1000; `rejected` counts them all."
    )
    errors_truncated: bool = False


class DuplicateMatch(StrEnum):
    email = "email"
    phone = "phone"
    name_address = "name_address"


class DuplicateGroup(BaseModel):
    """Live customers that share one match key: likely the same person."""

    match: DuplicateMatch = Field(description="Which key they share.")
    size: int = Field(description="How many live customers share the key.")
    customer_ids: list[uuid.UUID] = Field(
        description="Oldest first; at least two; the oldest 100 when `size` is larger."
    )


class MergeRequest(_Input):
    duplicate_id: uuid.UUID = Field(description="The customer merged into the survivor.")
    dry_run: bool = Field(False, description="Show the result without changing anything.")


class MergeResult(BaseModel):
    dry_run: bool
    survivor: CustomerRead
    merged_id: uuid.UUID
    moved_tickets: int
    moved_referrals: int
    added_tags: list[str]


class ErasureRequest(_Input):
    reason: LineText = Field(description="Why, e.g. `GDPR art. 17 request #4711`.")
    requested_by: ShortText


class ErasureRead(BaseModel):
    customer_id: uuid.UUID
    erased_at: dt.datetime
    reason: str
    requested_by: str


class GdprExport(BaseModel):
    """Everything the customer service holds about one customer."""

    exported_at: dt.datetime
    customer: CustomerRead
    referred_customers: list[uuid.UUID]
    tickets: list[TicketDetail]
    timeline: list[TimelineEvent]


# What an erased customer's free text (ticket bodies, notes, reviews) reads instead, in
# every service.
ERASED_TEXT = "[erased]"

MAX_CUSTOMER_IDS = 1000


class CustomerIds(_Input):
    """Customers by id: a sibling service asks which exist, without reading their records."""

    ids: list[uuid.UUID] = Field(
        max_length=MAX_CUSTOMER_IDS, description=f"At most {MAX_CUSTOMER_IDS} ids."
    )
