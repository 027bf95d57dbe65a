"""Tables of runs, the current-run pointer and the scores each run produced."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    true,
)

from crm_analytics.database import metadata
from crm_shared.db import UTCDateTime

runs = Table(
    "runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(10), nullable=False),
    Column("trigger", String(10), nullable=False),
    # True while queued or running, NULL after: the unique index admits one active run.
    Column("active", Boolean, nullable=True),
    Column("worker", String(200), nullable=False),
    Column("requested_at", UTCDateTime(timezone=True), nullable=False),
    Column("started_at", UTCDateTime(timezone=True), nullable=True),
    Column("finished_at", UTCDateTime(timezone=True), nullable=True),
    Column("as_of", Date, nullable=True),
    Column("data_as_of", UTCDateTime(timezone=True), nullable=True),
    Column("parameters", JSON, nullable=False),
    Column("fit", JSON, nullable=True),
    Column("sync", JSON, nullable=True),
    Column("lines_scored", Integer, nullable=True),
    Column("customers_scored", Integer, nullable=True),
    Column("memberships", Integer, nullable=True),
    Column("lifecycle_pushed", Integer, nullable=True),
    Column("lifecycle_push_failed", Integer, nullable=True),
    Column("results_kept", Boolean, nullable=False, server_default=true()),
    Column("error", Text, nullable=True),
    Index("uq_runs_active", "active", unique=True),
    Index("ix_runs_requested_at", "requested_at", "id"),
)

# One row (`slot` = "scores") naming the run every read serves; moved in one transaction.
current_run = Table(
    "current_run",
    metadata,
    Column("slot", String(20), primary_key=True),
    Column("run_id", Uuid, ForeignKey("runs.id"), nullable=False),
)

customer_scores = Table(
    "customer_scores",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("customer_id", Uuid, primary_key=True),
    Column("first_purchase_at", UTCDateTime(timezone=True), nullable=False),
    Column("last_purchase_at", UTCDateTime(timezone=True), nullable=False),
    Column("recency_days", Integer, nullable=False),
    Column("frequency", Integer, nullable=False),
    Column("monetary", Float, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("r_score", Integer, nullable=False),
    Column("f_score", Integer, nullable=False),
    Column("m_score", Integer, nullable=False),
    Column("rfm_segment", String(40), nullable=False),
    Column("value_score", Float, nullable=False),
    Column("simple_value", Float, nullable=True),
    Column("expected_purchases", Float, nullable=True),
    Column("probability_alive", Float, nullable=True),
    Column("expected_order_value", Float, nullable=True),
    Column("clv", Float, nullable=True),
    Column("dcf_clv", Float, nullable=True),
    Column("value_tier", String(10), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("cluster_id", Integer, nullable=True),
    Column("cluster_label", String(100), nullable=True),
    Column("churn_probability", Float, nullable=True),
    Column("churn_risk", String(10), nullable=True),
    Column("forecast_spend", Float, nullable=True),
    Index("ix_customer_scores_customer_id", "customer_id"),
)

CURRENT_SLOT = "scores"
