"""Every table of the analytics service, gathered for migrations."""

from crm_analytics.database import metadata, sync_cursors
from crm_analytics.runs.models import current_run, customer_scores, runs
from crm_analytics.segments.models import segment_members, segment_sizes, segments
from crm_analytics.sync.models import customer_tags, customers, order_lines

__all__ = [
    "current_run",
    "customer_scores",
    "customer_tags",
    "customers",
    "metadata",
    "order_lines",
    "runs",
    "segment_members",
    "segment_sizes",
    "segments",
    "sync_cursors",
]
