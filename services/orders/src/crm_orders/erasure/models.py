"""The customers the customer service has erased, as its export feed reported them."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Field

from crm_orders.database import Base
from crm_shared.db import UTCDateTime, utcnow


class ErasedCustomer(Base, table=True):
    __tablename__ = "erased_customers"

    customer_id: uuid.UUID = Field(primary_key=True)
    # When the customer service erased them (the feed line's `changed_at`).
    erased_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    # When this service learnt of it: recent erasures are checked again for late writes.
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
