"""Every table of the recommend service, gathered for migrations."""

from crm_recommend.database import metadata, sync_cursors

__all__ = ["metadata", "sync_cursors"]
