"""Wire schemas of the recommendation service: lists for the storefront, models and runs."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.types import ShortText

MAX_LIST = 100
MAX_EXCLUDED = 200


class RecommendationSource(StrEnum):
    personal = "personal"
    similar = "similar"
    popular = "popular"


class Recommendation(BaseModel):
    product_id: uuid.UUID
    sku: str
    name: str | None
    score: float = Field(description="Higher is better; comparable within one list only.")
    source: RecommendationSource = Field(
        description=(
            "`personal` (the customer's model list), `similar` (like a given product or "
            "recent views) or `popular` (the fallback)."
        )
    )
    reason: str = Field(
        description='Why it is shown, e.g. "because you bought Espresso cups", "popular in home".'
    )
    because_of: uuid.UUID | None = Field(
        None, description="The product of the customer's history or session behind `reason`."
    )


class RecommendationList(BaseModel):
    model_version: int | None = Field(
        description="Version of the model the list comes from; null when none is loaded."
    )
    fallback: bool = Field(
        description="True when no personal or similar list existed and popular items stand in."
    )
    items: list[Recommendation]


class BatchRecommendations(RecommendationList):
    """One NDJSON line of a batch answer: the list of one customer."""

    customer_id: str


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchRequest(_Input):
    customer_ids: list[ShortText] = Field(
        min_length=1,
        max_length=10_000,
        description="Customers to recommend for; unknown ones get popular items.",
    )
    limit: int = Field(10, ge=1, le=MAX_LIST, description="Items per customer.")
    category: ShortText | None = Field(
        None, description="Only products in this category path or below it."
    )
    exclude: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="Products never to show."
    )


class SessionRequest(_Input):
    product_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Products the visitor viewed in this session, most recent last.",
    )
    limit: int = Field(10, ge=1, le=MAX_LIST, description="Items to return.")
    category: ShortText | None = Field(
        None, description="Only products in this category path or below it."
    )
    exclude: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="Products never to show."
    )


class TrainingRunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class TrainingRunCreate(_Input):
    model: ShortText | None = Field(
        None, description="Model to fit (`als`, `ease`, `item_knn`, ...); the default when omitted."
    )
    parameters: dict[str, Any] | None = Field(
        None, description="Hyper-parameters of the model; its defaults when omitted."
    )
    activate: bool = Field(True, description="Serve the new version as soon as it is ready.")


class TrainingRun(BaseModel):
    id: uuid.UUID
    status: TrainingRunStatus
    trigger: str = Field(description="`request` or `schedule`.")
    model: str
    parameters: dict[str, Any]
    activate: bool
    version: int | None = Field(description="The model version the run produced.")
    metrics: dict[str, float] | None = Field(
        description=(
            "Holdout evaluation: precision, recall, ndcg, map and coverage at k, and the "
            "customers evaluated."
        )
    )
    data: dict[str, int] | None = Field(
        description="Customers, products and weighted pairs the model learned from."
    )
    timings: dict[str, float] | None = Field(description="Seconds per step of the run.")
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class TrainingRunPage(BaseModel):
    items: list[TrainingRun]
    next_cursor: str | None


class ModelVersion(BaseModel):
    version: int
    run_id: uuid.UUID
    model: str
    parameters: dict[str, Any]
    metrics: dict[str, float] | None
    data: dict[str, int] | None
    created_at: dt.datetime
    active: bool = Field(description="The version the service serves.")
    activated_at: dt.datetime | None
    loaded: bool = Field(description="This replica has the version in memory.")


class ModelVersionPage(BaseModel):
    items: list[ModelVersion]
    next_cursor: str | None


class FeedPull(BaseModel):
    feed: str
    lines: int
    position: int


class SyncReport(BaseModel):
    feeds: list[FeedPull]
    forgotten_customers: int = Field(description="Customers newly erased, deleted or merged.")
    failed: list[str] = Field(description="Feeds that could not be read; their copy is stale.")


class EvaluationCreate(_Input):
    models: list[ShortText] | None = Field(
        None,
        max_length=20,
        description="Models to compare, each with its default parameters; all when omitted.",
    )


class ModelEvaluation(BaseModel):
    model: str
    k: int | None = None
    users: int | None = Field(None, description="Customers with held-out products ranked.")
    precision: float | None = None
    recall: float | None = None
    ndcg: float | None = None
    map: float | None = Field(None, description="Divided by each customer's held-out count.")
    coverage: float | None = Field(None, description="Share of the catalogue recommended.")
    fit_seconds: float | None = None
    error: str | None = Field(None, description="Why the model could not be fitted here.")


class EvaluationReport(BaseModel):
    """Models fitted and ranked on the same holdout of the synced copy."""

    holdout: float = Field(description="Share of each customer's products held out.")
    models: list[ModelEvaluation] = Field(
        description="Empty when no customer has enough history to hold some out."
    )
