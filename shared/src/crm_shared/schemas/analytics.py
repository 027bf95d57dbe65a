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
    churn = "churn"
    cluster = "cluster"
    custom = "custom"


class ChurnRisk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


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
    cluster_id: int | None = Field(
        None, description="The customer's cluster (see `/v1/insights/clusters`)."
    )
    cluster_label: str | None = Field(None, description="The cluster's generated name.")
    churn_probability: float | None = Field(
        None, ge=0, le=1, description="Probability of no purchase in the model horizon."
    )
    churn_risk: ChurnRisk | None = Field(
        None, description="`churn_probability` banded by the run's thresholds."
    )
    forecast_spend: float | None = Field(
        None, description="Expected net spend in the model horizon (`/v1/insights/forecast`)."
    )


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
    id: str = Field(
        description="`rfm-...`, `tier-...`, `churn-...` and `cluster-...` for built-in "
        "segments; a UUID else."
    )
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


class ClusterProfile(BaseModel):
    cluster_id: int = Field(description="Stable across runs: matched to the previous centroids.")
    label: str = Field(
        description='Generated from its standout features, e.g. "lapsed one-off buyers".'
    )
    segment_id: str = Field(description="The built-in segment of its members.")
    customers: int
    revenue: float = Field(description="Net revenue of its customers.")
    revenue_share: float = Field(description="Its share of the shop's net revenue.")
    centroid: dict[str, float] = Field(
        description="The cluster's centre in original units: recency_days, frequency, "
        "monetary, average_order_value, quantity, tenure_days, clv."
    )


class ClusterInsights(BaseModel):
    """The customer clusters of the current run."""

    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    as_of: dt.date | None
    k: int | None = Field(description="Clusters, chosen by silhouette within the range.")
    silhouette: float | None = Field(description="Silhouette of the chosen k (on a sample).")
    skipped: str | None = Field(description="Why the run has no clusters, if it has none.")
    clusters: list[ClusterProfile]


class ChurnValidation(BaseModel):
    """The churn model measured on the latest window, whose outcome it was not trained on."""

    cutoff: dt.date = Field(description="Features as of this day, outcome in the h days after.")
    customers: int
    churned: int = Field(description="Customers who bought nothing in the h days.")
    auc: float = Field(description="ROC AUC of the churn probability.")
    precision: float = Field(description="At the 0.5 decision threshold.")
    recall: float = Field(description="At the 0.5 decision threshold.")
    recency_auc: float = Field(description="ROC AUC of recency alone, for comparison.")


class ChurnInsights(BaseModel):
    """Churn model quality, thresholds and risk bands of the current run."""

    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    as_of: dt.date | None
    horizon_days: int | None = Field(description="Churn is no purchase in this many days.")
    model: str | None
    skipped: str | None = Field(description="Why the run has no churn scores, if it has none.")
    medium_threshold: float | None
    high_threshold: float | None
    validation: ChurnValidation | None
    bands: list[GroupTotal] = Field(description="Customers and revenue per churn risk.")


class ForecastError(BaseModel):
    mae: float = Field(description="Mean absolute error per customer.")
    rmse: float = Field(description="Root mean squared error per customer.")
    predicted_total: float


class ForecastInsights(BaseModel):
    """Spend forecast quality on the holdout, beside BG/NBD x Gamma-Gamma, and totals."""

    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    as_of: dt.date | None
    horizon_days: int | None = Field(description="The forecast is the spend in this many days.")
    model: str | None
    skipped: str | None = Field(description="Why the run has no forecast, if it has none.")
    holdout_cutoff: dt.date | None = Field(description="Holdout: the h days after this day.")
    holdout_customers: int | None
    holdout_actual_total: float | None
    model_error: ForecastError | None
    bgnbd_error: ForecastError | None = Field(
        description="BG/NBD expected purchases x Gamma-Gamma expected spend, same holdout."
    )
    bgnbd_skipped: str | None
    naive_mean_error: ForecastError | None = Field(
        description="Every customer forecast the training window's mean spend."
    )
    customers: int = Field(description="Customers with a forecast in the current run.")
    forecast_total: float = Field(description="Sum of their forecast spend.")


class ScoreMeasure(StrEnum):
    """Score columns whose distribution over the customers can be read."""

    clv = "clv"
    dcf_clv = "dcf_clv"
    monetary = "monetary"
    frequency = "frequency"
    recency_days = "recency_days"
    value_score = "value_score"
    probability_alive = "probability_alive"
    expected_purchases = "expected_purchases"
    churn_probability = "churn_probability"
    forecast_spend = "forecast_spend"


class DistributionBin(BaseModel):
    lower: float = Field(description="Inclusive.")
    upper: float = Field(description="Exclusive, except in the last bin.")
    customers: int


class ScoreDistribution(BaseModel):
    """A histogram of one measure over the current run's customers, equal-width bins."""

    measure: ScoreMeasure
    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    customers: int = Field(description="Customers with a value of the measure.")
    missing: int = Field(description="Customers for whom the measure is null.")
    minimum: float | None
    maximum: float | None
    mean: float | None
    upper: float | None = Field(description="Values above this bound are counted in `above`.")
    above: int = Field(description="Customers beyond `upper`, left out of the bins.")
    bins: list[DistributionBin]


class TopicKeyword(BaseModel):
    term: str
    score: float = Field(description="Mean TF-IDF weight of the word over the texts.")


class RatingDirection(StrEnum):
    rising = "rising"
    falling = "falling"
    flat = "flat"
    unknown = "unknown"


class RatingMonth(BaseModel):
    month: str = Field(description="`YYYY-MM`.", examples=["2026-11"])
    ratings: int
    average_rating: float


class RatingTrend(BaseModel):
    months: list[RatingMonth] = Field(description="Months with ratings, oldest first.")
    slope_per_month: float | None = Field(
        description="Least-squares slope of the monthly averages (each weighted by its "
        "ratings), in rating points per month; null with fewer than two months."
    )
    direction: RatingDirection


class ProductReviewInsights(BaseModel):
    """What a product's reviews say and how its ratings move, in the current run."""

    product_id: uuid.UUID
    run_id: uuid.UUID
    as_of: dt.date | None
    reviews: int = Field(description="Reviews with text.")
    ratings: int = Field(description="Ratings, with or without text.")
    average_rating: float | None
    keywords: list[TopicKeyword] = Field(
        description="Words of its reviews weighed against all reviews, strongest first."
    )
    trend: RatingTrend


class SegmentReviewKeywords(BaseModel):
    """What the members of a segment write in their reviews, in the current run."""

    segment_id: str
    run_id: uuid.UUID
    as_of: dt.date | None
    reviews: int
    reviewers: int = Field(description="Members with at least one review.")
    keywords: list[TopicKeyword]


class FeedbackKind(StrEnum):
    complaint = "complaint"
    feedback = "feedback"


class TicketGroup(BaseModel):
    """Similar complaint or feedback tickets of the current run, largest group first."""

    id: int = Field(description="The group's number in its run; 1 is the largest.")
    run_id: uuid.UUID
    kind: FeedbackKind
    size: int
    keywords: list[TopicKeyword]
    example_ticket_ids: list[uuid.UUID] = Field(description="The most typical tickets first.")


class BasketRuleSort(StrEnum):
    lift = "lift"
    confidence = "confidence"


class BasketRule(BaseModel):
    """An association rule of the current run: orders with `antecedent_id` often hold
    `consequent_id` too. Cancelled orders and fully refunded lines are left out."""

    antecedent_id: uuid.UUID = Field(description="The product in the order.")
    consequent_id: uuid.UUID = Field(description="The product bought with it.")
    orders: int = Field(description="Orders holding both products.")
    antecedent_orders: int = Field(description="Orders holding the antecedent.")
    consequent_orders: int = Field(description="Orders holding the consequent.")
    support: float = Field(description="Share of all orders that hold both products.")
    confidence: float = Field(
        description="Share of the orders with the antecedent that hold the consequent too."
    )
    lift: float = Field(
        description="Confidence over the consequent's share of all orders: above 1, the two "
        "are bought together more often than by chance."
    )


class BoughtTogether(BaseModel):
    """Products frequently bought with one product in the current run, best first."""

    product_id: uuid.UUID
    run_id: uuid.UUID | None = Field(description="Null before the first successful run.")
    sort: BasketRuleSort
    items: list[BasketRule]


class ReferralSort(StrEnum):
    referral_influence = "referral_influence"
    referrals_downstream = "referrals_downstream"
    referral_revenue = "referral_revenue"
    referrals_direct = "referrals_direct"


class CustomerReferrals(BaseModel):
    """A customer's place in the referral graph of the current run."""

    customer_id: uuid.UUID
    referrals_direct: int = Field(description="Customers they referred themselves.")
    referrals_downstream: int = Field(
        description="Customers below them: referred by them or by someone below them."
    )
    referral_revenue: float = Field(description="Net revenue of the downstream customers.")
    referral_influence: float = Field(
        description="PageRank in the referral graph, scaled so that 1 is the average "
        "customer of the graph."
    )
