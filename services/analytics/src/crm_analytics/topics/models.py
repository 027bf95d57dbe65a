"""Tables of the topics domain: the copies of reviews and feedback tickets, and the
current run's keywords, rating trends and ticket groups."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)

from crm_analytics.database import metadata
from crm_shared.db import UTCDateTime

# Ratings and reviews of the orders interactions feed (they never change once recorded).
# `customer_id` is null for a review left in an anonymous session.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=True, index=True),
    Column("product_id", Uuid, nullable=False, index=True),
    Column("rating", SmallInteger, nullable=True),
    Column("review_text", Text, nullable=True),
    Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
)

# Complaint and feedback tickets of the customer service's ticket feed, at their latest
# state; a ticket of an erased customer is removed, never kept redacted.
feedback_tickets = Table(
    "feedback_tickets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("changed_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
)

# Outputs of the current run only: a run writes its own, and the swap to it drops the rest.
product_topics = Table(
    "product_topics",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", Uuid, primary_key=True),
    Column("reviews", Integer, nullable=False),
    Column("ratings", Integer, nullable=False),
    Column("average_rating", Float, nullable=True),
    Column("keywords", JSON, nullable=False),
    Column("trend", JSON, nullable=False),
    Column("slope_per_month", Float, nullable=True),
    Column("direction", String(8), nullable=False),
)

segment_keywords = Table(
    "segment_keywords",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("reviews", Integer, nullable=False),
    Column("reviewers", Integer, nullable=False),
    Column("keywords", JSON, nullable=False),
)

# Groups are numbered per run, largest first.
ticket_groups = Table(
    "ticket_groups",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("group_number", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("example_ticket_ids", JSON, nullable=False),
    Index("ix_ticket_groups_kind", "run_id", "kind", "group_number"),
)

ticket_group_members = Table(
    "ticket_group_members",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_id", Uuid, primary_key=True),
    Column("group_number", Integer, nullable=False),
    Index("ix_ticket_group_members_ticket_id", "ticket_id"),
)
