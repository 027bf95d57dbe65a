"""The customer service's tables hang off this base; shared tables join the same metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

from crm_shared.db import new_registry
from crm_shared.feed import feed_counter_table
from crm_shared.idempotency import IdempotencyStore, idempotency_table


class Base(SQLModel, registry=new_registry()):
    pass


metadata = Base.metadata
feed_counter = feed_counter_table(metadata)
idempotency = IdempotencyStore(idempotency_table(metadata))

CUSTOMER_FEED = "customers"
TICKET_FEED = "tickets"
