"""The cluster profiles of each run (the scores' new columns live in `customer_scores`)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, Uuid

from crm_analytics.database import metadata

# Kept for every run, like segment sizes: the next run matches its clusters to the
# current run's centroids, and a cluster segment's history names its clusters.
cluster_profiles = Table(
    "cluster_profiles",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("cluster_id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(100), nullable=False),
    Column("customers", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
    Column("revenue_share", Float, nullable=False),
    # Feature name -> value at the centroid, in original units (days, orders, money).
    Column("centroid", JSON, nullable=False),
)
