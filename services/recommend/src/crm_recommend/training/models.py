"""Tables of the model lifecycle: training runs and the versions they produced."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from crm_recommend.database import metadata
from crm_shared.db import UTCDateTime

JsonType = JSON().with_variant(JSONB(), "postgresql")

training_runs = Table(
    "training_runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(10), nullable=False),
    Column("trigger", String(10), nullable=False),
    Column("model", String(40), nullable=False),
    Column("parameters", JsonType, nullable=False),
    Column("activate", Boolean, nullable=False),
    Column("metrics", JsonType, nullable=True),
    Column("data", JsonType, nullable=True),
    Column("timings", JsonType, nullable=True),
    Column("version", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("worker", String(200), nullable=True),  # the host whose process runs it
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("started_at", UTCDateTime(timezone=True), nullable=True),
    Column("finished_at", UTCDateTime(timezone=True), nullable=True),
    Index("ix_training_runs_created_at", "created_at", "id"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Uuid, nullable=False),
    Column("model", String(40), nullable=False),
    Column("parameters", JsonType, nullable=False),
    Column("metrics", JsonType, nullable=True),
    Column("data", JsonType, nullable=True),
    Column("directory", String(300), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("activated_at", UTCDateTime(timezone=True), nullable=True),
)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
