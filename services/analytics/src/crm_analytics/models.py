"""Every table of the analytics service, gathered for migrations."""

from crm_analytics.database import metadata, sync_cursors

__all__ = ["metadata", "sync_cursors"]
