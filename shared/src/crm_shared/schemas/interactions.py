"""Wire schemas of interactions: storefront events, the batch ingest report, reviews."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.schemas.customers import ImportRowError
from crm_shared.types import LongText, PastUtcDatetime, ShortText, Sku


class InteractionKind(StrEnum):
    view = "view"
    add_to_cart = "add_to_cart"
    remove_from_cart = "remove_from_cart"
    wishlist = "wishlist"
    rating = "rating"
    review = "review"


RATED_KINDS = frozenset({InteractionKind.rating, InteractionKind.review})


def interaction_rule_errors(values: Mapping[str, Any]) -> list[str]:
    """What an interaction breaks of the rules between its fields; empty when it is valid.

    Shared by `InteractionCreate` and the batch ingest, which validates rows without
    building a model each (so the two always agree).
    """
    problems: list[str] = []
    if values.get("customer_id") is None and values.get("session_id") is None:
        problems.append("an interaction needs a customer_id or a session_id")
    has_id, has_sku = values.get("product_id") is not None, values.get("sku") is not None
    if has_id == has_sku:
        problems.append("name the product by product_id or by sku, exactly one of them")
    kind = values.get("kind")
    rating, text = values.get("rating"), values.get("review_text")
    if kind in RATED_KINDS and rating is None:
        problems.append(f"a {kind} needs a rating from 1 to 5")
    if kind not in RATED_KINDS and rating is not None:
        problems.append("only a rating or a review carries a rating")
    if kind == InteractionKind.review and text is None:
        problems.append("a review needs review_text")
    if kind != InteractionKind.review and text is not None:
        problems.append("only a review carries review_text")
    return problems


class InteractionCreate(BaseModel):
    """One storefront event. The customer is not checked against the customer service:
    events arrive at storefront rate, and analytics joins them to customers later."""

    model_config = ConfigDict(extra="forbid")

    event_id: ShortText | None = Field(
        None,
        description="The client's own id of the event, unique across all events: an event "
        "sent again with the same event_id is recognised and stored once.",
    )
    kind: InteractionKind
    customer_id: uuid.UUID | None = Field(None, description="Signed-in customer, if any.")
    session_id: ShortText | None = Field(None, description="The visitor's storefront session.")
    product_id: uuid.UUID | None = Field(None, description="The product, by id ...")
    sku: Sku | None = Field(None, description="... or by sku (exactly one of the two).")
    rating: int | None = Field(None, ge=1, le=5, description="For `rating` and `review`.")
    review_text: LongText | None = Field(None, description="For `review`.")
    occurred_at: PastUtcDatetime = Field(description="When it happened; timezone required.")

    @model_validator(mode="after")
    def _consistent(self) -> InteractionCreate:
        problems = interaction_rule_errors(self.__dict__)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class InteractionRead(BaseModel):
    id: uuid.UUID
    event_id: str | None
    kind: InteractionKind
    customer_id: uuid.UUID | None
    session_id: str | None
    product_id: uuid.UUID
    rating: int | None
    review_text: str | None
    occurred_at: dt.datetime
    received_at: dt.datetime


class InteractionBatchReport(BaseModel):
    """What became of the events of one batch: each one is counted exactly once."""

    received: int = Field(description="Events (non-blank lines) in the body.")
    inserted: int = Field(description="Events stored now.")
    duplicates: int = Field(
        description="Events whose event_id was already stored, or came earlier in this batch."
    )
    rejected: int = Field(description="Invalid events, or events naming an unknown product.")
    errors: list[ImportRowError] = Field(
        description="Why events were rejected, the first 1000; row numbers count the "
        "non-blank lines of the body from 1."
    )
    errors_truncated: bool = False


class ReviewRead(BaseModel):
    id: uuid.UUID
    product_id: uuid.UUID
    customer_id: uuid.UUID | None
    rating: int
    text: str
    occurred_at: dt.datetime
