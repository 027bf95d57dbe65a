"""Wire schemas of the analytics service: runs, customer scores, segments and their members."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.types import LongText, ShortText

RULE_MAX_LENGTH = 2000


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class RunTrigger(StrEnum):
    manual = "manual"
    schedule = "schedule"


class ValueTier(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class ScoredLifecycleStage(StrEnum):
    new = "new"
    active = "active"
    at_risk = "at_risk"
    churned = "churned"


class SegmentKind(StrEnum):
    rfm = "rfm"
    tier = "tier"
    custom = "custom"


class MemberChannel(StrEnum):
    email = "email"
    sms = "sms"


class ConsentFilter(StrEnum):
    granted = "granted"
    any = "any"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCreate(_Input):
    as_of: dt.date | None = Field(
        None,
        description="Score as of the end of this day (UTC); orders placed later are left "
        "out. Default: today.",
    )


class FeedSync(BaseModel):
    """How the run's sync of one source feed went, and how current that copy is."""

    feed: str = Field(description="`order_lines` or `customers`.")
    ok: bool = Field(description="False when the source could not be read to its end.")
    lines: int = Field(description="Changes applied by this run's pull.")
    position: int = Field(description="Feed position the copy is at.")
    synced_at: dt.datetime | None = Field(
        description="When the copy was last complete; null if never."
    )
    staleness_seconds: float | None = Field(
        description="Seconds between `synced_at` and the end of the pull."
    )
    error: str | None = None


class Run(BaseModel):
    """A scoring run: sync the copies, score, and swap the results in."""

    id: uuid.UUID
    status: RunStatus
    trigger: RunTrigger
    current: bool = Field(description="The run every score and segment read serves.")
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    as_of: dt.date | None
    data_as_of: dt.datetime | None = Field(
        description="Both copies were complete up to this time when the run scored them."
    )
    parameters: dict[str, Any] = Field(description="The scoring parameters used.")
    fit: dict[str, Any] | None = Field(description="Fitted model parameters and diagnostics.")
    sync: list[FeedSync]
    lines_scored: int | None = Field(description="Order lines the scores were computed from.")
    customers_scored: int | None
    memberships: int | None = Field(description="Segment memberships stored for the run.")
    lifecycle_pushed: int | None = Field(
        description="Lifecycle stages sent to the customer service after the swap."
    )
    lifecycle_push_failed: int | None = Field(
        description="Lifecycle updates that failed; they are sent again by the next run."
    )
    results_kept: bool = Field(
        description="False once the scores and memberships were pruned by retention."
    )
    error: str | None


class SegmentRef(BaseModel):
    id: str
    name: str
    kind: SegmentKind


class CustomerScore(BaseModel):
    """A customer's scores in the current run."""

    customer_id: uuid.UUID
    first_purchase_at: dt.datetime
    last_purchase_at: dt.datetime
    recency_days: int
    frequency: int = Field(description="Orders placed.")
    monetary: float = Field(description="Net revenue of all orders (after refunds).")
    quantity: int = Field(description="Units bought, net of refunds.")
    r_score: int = Field(ge=1, le=5)
    f_score: int = Field(ge=1, le=5)
    m_score: int = Field(ge=1, le=5)
    rfm_segment: str
    value_score: float
    simple_value: float | None
    expected_purchases: float | None = Field(description="Over the lifetime-value horizon.")
    probability_alive: float | None
    expected_order_value: float | None
    clv: float | None = Field(description="Expected revenue over the horizon.")
    dcf_clv: float | None = Field(description="`clv` discounted monthly.")
    value_tier: ValueTier
    lifecycle_stage: ScoredLifecycleStage


class CustomerScores(CustomerScore):
    run_id: uuid.UUID
    as_of: dt.date | None
    segments: list[SegmentRef] = Field(description="Segments the customer is a member of.")


class SegmentCreate(_Input):
    name: ShortText = Field(max_length=100)
    description: LongText | None = None
    rule: str = Field(
        min_length=1,
        max_length=RULE_MAX_LENGTH,
        description='A rule such as `rfm_segment in ["At Risk"] and country = "DE" and '
        "clv > 100`; see the segments guide for fields and operators.",
    )


class SegmentUpdate(_Input):
    """Fields to change; omitted fields stay."""

    name: ShortText | None = Field(None, max_length=100)
    description: LongText | None = None
    rule: str | None = Field(None, min_length=1, max_length=RULE_MAX_LENGTH)

    @model_validator(mode="after")
    def _not_empty(self) -> SegmentUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for field in ("name", "rule"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be cleared")
        return self


class Segment(BaseModel):
    id: str = Field(description="`rfm-...` and `tier-...` for built-in segments; a UUID else.")
    kind: SegmentKind
    name: str
    description: str | None
    rule: str
    run_id: uuid.UUID | None = Field(description="The run `size` and `revenue` come from.")
    size: int | None = Field(description="Members in the current run; null before any run.")
    revenue: float | None = Field(description="Net revenue of the members.")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class SegmentMember(BaseModel):
    customer_id: uuid.UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    country: str | None
    consent_email: bool
    consent_sms: bool
    rfm_segment: str
    value_tier: ValueTier
    lifecycle_stage: ScoredLifecycleStage
    frequency: int
    monetary: float
    clv: float | None
    last_purchase_at: dt.datetime


class SegmentSize(BaseModel):
    run_id: uuid.UUID
    as_of: dt.date | None
    measured_at: dt.datetime
    customers: int
    revenue: float


class GroupTotal(BaseModel):
    name: str
    customers: int
    revenue: float


class RfmCell(BaseModel):
    r_score: int
    f_score: int
    customers: int
    revenue: float


class ScoreSummary(BaseModel):
    """The dashboard's view of the current run."""

    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    as_of: dt.date | None
    data_as_of: dt.datetime | None
    customers: int
    revenue: float
    clv: float = Field(description="Sum of the customers' lifetime values.")
    segments: list[GroupTotal] = Field(description="Per RFM segment.")
    tiers: list[GroupTotal] = Field(description="Per value tier.")
    lifecycle_stages: list[GroupTotal]
    rfm_grid: list[RfmCell] = Field(
        description="Recency score x frequency score, the cells with customers in them."
    )
