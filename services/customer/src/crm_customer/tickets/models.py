"""Tables of the tickets domain."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, SmallInteger, Text
from sqlmodel import Field

from crm_customer.database import Base
from crm_shared.db import UTCDateTime, utcnow
from crm_shared.ids import uuid7


class Ticket(Base, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_id", "customer_id", "id"),
        Index("ix_tickets_status", "status", "id"),
        Index("ix_tickets_change_position", "change_position", unique=True),
        CheckConstraint("kind IN ('inquiry', 'feedback', 'complaint')", name="kind"),
        CheckConstraint("status IN ('open', 'pending', 'resolved', 'closed')", name="status"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id")
    kind: str = Field(max_length=16)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)
    satisfaction: int | None = Field(default=None, sa_column=Column(SmallInteger))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Position of the ticket's latest change in the ticket export feed.
    change_position: int = Field(sa_column=Column(BigInteger, nullable=False))


class TicketNote(Base, table=True):
    __tablename__ = "ticket_notes"
    __table_args__ = (Index("ix_ticket_notes_ticket_id", "ticket_id", "id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    ticket_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
