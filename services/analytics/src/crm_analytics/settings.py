"""Configuration of the analytics service, from `ANALYTICS_*` environment variables."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class ScoringWorker(StrEnum):
    process = "process"
    thread = "thread"


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "analytics"

    port: int = Field(8003, ge=1, le=65535, description="Port the service listens on.")
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal URL of the customer service."
    )
    orders_url: str = Field(
        "http://127.0.0.1:8002", description="Internal URL of the orders service."
    )
    sync_batch_lines: int = Field(
        5000,
        ge=1,
        le=100_000,
        description="Feed lines applied per transaction when syncing the copies; a pull that "
        "stops half-way resumes after the last applied batch.",
    )
    sync_timeout_seconds: float = Field(
        30.0, gt=0, description="Read timeout of one feed request to a source service."
    )
    run_interval_seconds: float = Field(
        3600.0,
        ge=0,
        description="Start a scoring run this often (sync first, then score); 0 turns the "
        "schedule off, leaving runs to `POST /v1/runs`.",
    )
    run_timeout_seconds: float = Field(
        3600.0,
        gt=0,
        description="A run still queued or running after this long is taken as abandoned "
        "(its process died) and no longer blocks a new one.",
    )
    runs_kept: int = Field(
        10,
        ge=1,
        le=1000,
        description="Scores and segment memberships are kept for this many latest "
        "successful runs; run records and segment size history are kept for every run.",
    )
    scoring_worker: ScoringWorker = Field(
        ScoringWorker.process,
        description="Where the scoring maths runs, off the event loop: `process` (a worker "
        "process, kept for the service's lifetime) or `thread` (a worker thread).",
    )
    clv_horizon_months: int = Field(
        12, ge=1, le=120, description="Horizon of the customer lifetime value, in months."
    )
    monthly_discount_rate: float = Field(
        0.01, ge=0, lt=1, description="Monthly discount rate of the discounted lifetime value."
    )
    value_weight_quantity: float = Field(
        0.3, ge=0, le=1, description="Alpha: weight of the units bought in the value score."
    )
    value_weight_value: float = Field(
        0.5, ge=0, le=1, description="Beta: weight of the net revenue in the value score."
    )
    value_weight_loyalty: float = Field(
        0.2, ge=0, le=1, description="Gamma: weight of the number of orders in the value score."
    )
    tier_medium_quantile: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Customers whose lifetime value is at or above this quantile are at "
        "least `medium` value.",
    )
    tier_high_quantile: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Customers whose lifetime value is at or above this quantile are `high` value.",
    )
    active_days: int = Field(
        90,
        ge=0,
        description="Lifecycle `new`: the first purchase is at most this many days old.",
    )
    at_risk_days: int = Field(
        180,
        ge=0,
        description="Otherwise lifecycle `active` while the last purchase is at most this "
        "many days old.",
    )
    churned_days: int = Field(
        365,
        ge=0,
        description="Then `at_risk` while the last purchase is at most this many days old; "
        "`churned` beyond.",
    )
    push_lifecycle: bool = Field(
        True,
        description="After a run, send each customer whose lifecycle stage changed to the "
        "customer service (`PATCH /v1/customers/{id}`); failures are retried next run.",
    )
    push_concurrency: int = Field(
        4, ge=1, le=64, description="Lifecycle updates in flight at once to the customer service."
    )
    basket_min_support: float = Field(
        0.001,
        ge=0,
        le=1,
        description="Basket rules: a pair of products must be in at least this share of the "
        "orders.",
    )
    basket_min_orders: int = Field(
        3,
        ge=1,
        description="Basket rules: a pair of products must be in at least this many orders.",
    )
    basket_min_confidence: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Basket rules: share of the orders with the first product that also hold "
        "the second, at least.",
    )
    basket_min_lift: float = Field(
        1.0,
        ge=0,
        description="Basket rules: how much more often than by chance the pair is bought "
        "together, at least (1 = as often as by chance).",
    )
    basket_max_rules: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Basket rules kept per run, the highest lift first.",
    )
    referral_damping: float = Field(
        0.85,
        gt=0,
        lt=1,
        description="Damping factor of the PageRank that scores referral influence.",
    )

    customer_models: bool = Field(
        True,
        description="Fit the learned customer models in every run: clusters, churn risk "
        "and the spend forecast; off leaves their score columns empty.",
    )
    model_horizon_days: int = Field(
        90,
        ge=7,
        le=730,
        description="h of the churn and spend models: churn is no purchase in the next h "
        "days, the forecast is the spend in them; trained on the window ending h days "
        "before the run's day and validated on the latest one.",
    )
    model_min_customers: int = Field(
        50,
        ge=2,
        description="A model is skipped (its reason in the run's fit report) when a window "
        "has fewer customers than this.",
    )
    model_training_sample: int = Field(
        200_000,
        ge=100,
        description="At most this many customers (drawn at random) train each churn and "
        "spend model; every customer is scored.",
    )
    churn_medium_threshold: float = Field(
        0.5, gt=0, lt=1, description="Churn risk `medium` from this churn probability."
    )
    churn_high_threshold: float = Field(
        0.8, gt=0, lt=1, description="Churn risk `high` from this churn probability."
    )
    cluster_k_min: int = Field(2, ge=2, le=30, description="Fewest customer clusters.")
    cluster_k_max: int = Field(
        8, ge=2, le=30, description="Most customer clusters; k is chosen by silhouette."
    )
    cluster_fit_sample: int = Field(
        20_000,
        ge=100,
        description="The candidate clusterings (one per k) are fitted on this many customers "
        "at most; the chosen one is then refined on every customer.",
    )
    cluster_silhouette_sample: int = Field(
        4_000, ge=10, description="The silhouette of each k is measured on this many customers."
    )

    @property
    def churn_thresholds(self) -> tuple[float, float]:
        return (self.churn_medium_threshold, self.churn_high_threshold)

    @property
    def cluster_k_range(self) -> tuple[int, int]:
        return (self.cluster_k_min, self.cluster_k_max)

    topic_keywords: int = Field(
        10, ge=1, le=50, description="Keywords kept per product, segment and ticket group."
    )
    topic_max_terms: int = Field(
        20_000,
        ge=100,
        le=500_000,
        description="Vocabulary of the review and ticket TF-IDF: the most frequent words.",
    )
    topic_trend_months: int = Field(
        24, ge=2, le=120, description="Months of ratings in a product's rating trend."
    )
    topic_ticket_similarity: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Tickets group while their mean cosine similarity (TF-IDF) is at least this.",
    )
    topic_ticket_min_group: int = Field(
        2, ge=2, le=1000, description="Smaller groups of similar tickets are not reported."
    )
    topic_ticket_limit: int = Field(
        2000,
        ge=10,
        le=10_000,
        description="Latest complaint and feedback tickets grouped per kind and run; the "
        "grouping holds their pairwise similarities in memory (n^2 floats).",
    )

    @property
    def value_weights(self) -> tuple[float, float, float]:
        return (self.value_weight_quantity, self.value_weight_value, self.value_weight_loyalty)

    @property
    def tier_quantiles(self) -> tuple[float, float]:
        return (self.tier_medium_quantile, self.tier_high_quantile)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if abs(sum(self.value_weights) - 1.0) > 1e-6:
            raise ValueError("the three value weights must add up to 1")
        if self.tier_medium_quantile >= self.tier_high_quantile:
            raise ValueError("tier_medium_quantile must be below tier_high_quantile")
        if not self.active_days <= self.at_risk_days <= self.churned_days:
            raise ValueError("lifecycle thresholds must not shrink: active <= at_risk <= churned")
        if self.churn_medium_threshold >= self.churn_high_threshold:
            raise ValueError("churn_medium_threshold must be below churn_high_threshold")
        if self.cluster_k_min > self.cluster_k_max:
            raise ValueError("cluster_k_min must not exceed cluster_k_max")
        return self
