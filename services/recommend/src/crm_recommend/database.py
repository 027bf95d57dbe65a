"""The recommend service's tables hang off this base; shared tables join the same metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

from crm_shared.db import new_registry
from crm_shared.sync import sync_cursor_table


class Base(SQLModel, registry=new_registry()):
    pass


metadata = Base.metadata
sync_cursors = sync_cursor_table(metadata)
