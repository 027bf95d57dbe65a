"""The analytics service's tables hang off this base; shared tables join the same metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import SQLModel

from crm_shared.db import new_registry
from crm_shared.sync import sync_cursor_table


class Base(SQLModel, registry=new_registry()):
    pass


metadata = Base.metadata
sync_cursors = sync_cursor_table(metadata)

ORDER_LINES_FEED = "order_lines"
CUSTOMERS_FEED = "customers"
INTERACTIONS_FEED = "interactions"
TICKETS_FEED = "tickets"
FEEDS = (ORDER_LINES_FEED, CUSTOMERS_FEED, INTERACTIONS_FEED, TICKETS_FEED)

# Repositories run on the request's session (writes) or a plain connection (reads, runs).
Db = AsyncSession | AsyncConnection
# Rows of any shape, as `execute(...).all()` returns them.
Rows = Sequence[Row[*tuple[Any, ...]]]
