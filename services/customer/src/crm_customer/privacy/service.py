"""GDPR rights on the customer service's data: access (export) and erasure."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.customers import repository as customers_repository
from crm_customer.customers import service as customers_service
from crm_customer.customers.errors import CustomerNotFound
from crm_customer.customers.models import Customer, Erasure
from crm_customer.privacy import repository
from crm_customer.privacy.errors import AlreadyErased, CustomerErased, ErasureNotFound
from crm_customer.privacy.repository import Db
from crm_customer.tickets import repository as tickets_repository
from crm_customer.tickets import service as tickets_service
from crm_shared.db import utcnow
from crm_shared.schemas.customers import ErasureRead, ErasureRequest, GdprExport, TimelineEvent

TIMELINE_PAGE = 1000

# Columns that hold personal data or are derived from it; erasure sets them all to NULL.
PERSONAL_COLUMNS = (
    "external_ref",
    "email",
    "first_name",
    "last_name",
    "phone",
    *customers_service.ADDRESS_FIELDS.values(),
    "locale",
    "email_key",
    "phone_key",
    "name_address_key",
)


def erasure_read(row: Any) -> ErasureRead:
    return ErasureRead(
        customer_id=row.customer_id,
        erased_at=row.erased_at,
        reason=row.reason,
        requested_by=row.requested_by,
    )


async def _full_timeline(db: Db, customer_id: uuid.UUID) -> list[TimelineEvent]:
    timeline: list[TimelineEvent] = []
    after: uuid.UUID | None = None
    while True:
        rows = await customers_repository.timeline_rows(
            db, customer_id, after=after, limit=TIMELINE_PAGE
        )
        page = rows[:TIMELINE_PAGE]
        timeline.extend(
            TimelineEvent(id=row.id, at=row.at, kind=row.kind, data=row.data or {}) for row in page
        )
        if len(rows) <= TIMELINE_PAGE:
            return timeline
        after = page[-1].id


async def gdpr_export(db: Db, customer_id: uuid.UUID) -> GdprExport:
    row = await repository.get_any_row(db, customer_id)
    if row is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    if row.erased_at is not None:
        raise CustomerErased(
            f"Customer {customer_id} was erased; no personal data is left to export.",
            erased_at=row.erased_at.isoformat(),
        )
    return GdprExport(
        exported_at=utcnow(),
        customer=customers_service.customer_read(row),
        referred_customers=await customers_repository.referred_ids(db, customer_id),
        tickets=await tickets_service.customer_ticket_details(db, customer_id),
        timeline=await _full_timeline(db, customer_id),
    )


def _anonymise(customer: Customer) -> None:
    """Keep only what holds no personal data: the pseudonymous id keeps orders consistent."""
    for column in PERSONAL_COLUMNS:
        setattr(customer, column, None)
    customer.tags = []
    customer.consents = {}


async def erase_customer(
    session: AsyncSession, customer_id: uuid.UUID, request: ErasureRequest
) -> ErasureRead:
    customer = await repository.get_any_for_update(session, customer_id)
    if customer is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    if customer.erased_at is not None:
        raise AlreadyErased(
            f"Customer {customer_id} was already erased at {customer.erased_at.isoformat()}."
        )
    now = utcnow()
    _anonymise(customer)
    customer.erased_at = now
    if customer.deleted_at is None:
        customer.deleted_at = now
    await customers_service.stamp(session, customer)

    ticket_ids = await repository.ticket_ids(session, customer_id)
    await repository.delete_tags(session, customer_id)
    await repository.redact_tickets(session, customer_id, now)
    await tickets_repository.mark_customer_tickets_changed(session, customer_id)
    await repository.delete_events(session, customer_id)
    await customers_repository.add_event(session, customer_id, "erased", at=now)
    await repository.forget_idempotent_responses(session, [customer_id, *ticket_ids])
    erasure = Erasure(
        customer_id=customer_id,
        erased_at=now,
        reason=request.reason,
        requested_by=request.requested_by,
    )
    await repository.add_erasure(session, erasure)
    return erasure_read(erasure)


async def get_erasure(db: Db, customer_id: uuid.UUID) -> ErasureRead:
    row = await repository.get_erasure(db, customer_id)
    if row is not None:
        return erasure_read(row)
    if await repository.get_any_row(db, customer_id) is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    raise ErasureNotFound(f"Customer {customer_id} was not erased.")
