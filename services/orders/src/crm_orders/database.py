"""The orders service's tables hang off this base; shared tables join the same metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

from crm_shared.db import new_registry
from crm_shared.feed import feed_counter_table
from crm_shared.idempotency import IdempotencyStore, idempotency_table
from crm_shared.sync import sync_cursor_table


class Base(SQLModel, registry=new_registry()):
    pass


metadata = Base.metadata
feed_counter = feed_counter_table(metadata)
idempotency = IdempotencyStore(idempotency_table(metadata))
# Where the copy of the customer feed's erasures has got to.
sync_cursors = sync_cursor_table(metadata)

PRODUCT_FEED = "products"
ORDER_LINE_FEED = "order_lines"
INTERACTION_FEED = "interactions"
# The customer service's export feed, followed for erasures.
CUSTOMER_FEED = "customers"
