"""Wire schemas of support tickets: inquiries, feedback and complaints."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.types import LineText, LongText, ShortText


class TicketKind(StrEnum):
    inquiry = "inquiry"
    feedback = "feedback"
    complaint = "complaint"


class TicketStatus(StrEnum):
    open = "open"
    pending = "pending"
    resolved = "resolved"
    closed = "closed"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(_Input):
    customer_id: uuid.UUID
    kind: TicketKind
    subject: LineText
    body: LongText


class TicketUpdate(_Input):
    """A status change (valid transitions only), a new subject, or the satisfaction score.

    Transitions: open → pending | resolved; pending → open | resolved;
    resolved → closed | open (reopen); closed → open (reopen).
    Satisfaction (1-5) can be given once the ticket is resolved or closed.
    """

    subject: LineText | None = None
    status: TicketStatus | None = None
    satisfaction: int | None = Field(None, ge=1, le=5)

    @model_validator(mode="after")
    def _not_empty(self) -> TicketUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for name in ("subject", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        return self


class TicketNoteCreate(_Input):
    body: LongText
    author: ShortText


class TicketNote(BaseModel):
    id: uuid.UUID
    body: str
    author: str
    created_at: dt.datetime


class TicketRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: TicketKind
    subject: str
    body: str
    status: TicketStatus
    satisfaction: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


class TicketDetail(TicketRead):
    notes: list[TicketNote]


class TicketChange(TicketRead):
    """One line of the ticket export feed: a ticket at its latest state.

    A ticket appears again each time it changes (status, subject, satisfaction, a note, a
    merge moving it to another customer, its customer's erasure). Notes are not carried.
    """

    position: int = Field(description="Monotonic feed position; resume with `?cursor=` set to it.")
    redacted: bool = Field(
        description="The customer was erased: subject and body hold only the redaction "
        "marker, never the original text."
    )
