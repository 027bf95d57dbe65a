"""The logic of the customers domain: what may change, and what every change records."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_customer.customers import repository
from crm_customer.customers.errors import (
    CustomerExists,
    CustomerNotFound,
    ReferralCycle,
    ReferrerNotFound,
    SelfReferral,
)
from crm_customer.customers.matching import email_key, name_address_key, phone_key
from crm_customer.customers.models import Customer
from crm_customer.customers.repository import CustomerFilters, Db
from crm_shared.db import Database, utcnow
from crm_shared.feed import feed_lines
from crm_shared.pagination import decode_cursor, next_cursor, uuid_after
from crm_shared.schemas.common import Page
from crm_shared.schemas.customers import (
    Address,
    ChangeKind,
    Consent,
    ConsentChannel,
    ConsentIn,
    ConsentUpdate,
    CustomerChange,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    TagCount,
    TimelineEvent,
)

ADDRESS_FIELDS = {
    "line1": "address_line1",
    "line2": "address_line2",
    "city": "city",
    "postal_code": "postal_code",
    "region": "region",
    "country": "country",
}


def customer_read(row: Any) -> CustomerRead:
    """A customer on the wire, from its ORM object or a plain row of the customers table."""
    return CustomerRead(
        id=row.id,
        external_ref=row.external_ref,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        address=Address.model_construct(
            **{wire: getattr(row, column) for wire, column in ADDRESS_FIELDS.items()}
        ),
        locale=row.locale,
        lifecycle_stage=row.lifecycle_stage,
        referred_by=row.referred_by,
        tags=row.tags,
        consents=[
            Consent(channel=ConsentChannel(channel), **state)
            for channel, state in sorted(row.consents.items())
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def refresh_match_keys(customer: Customer) -> None:
    customer.email_key = email_key(customer.email)
    customer.phone_key = phone_key(customer.phone)
    customer.name_address_key = name_address_key(
        customer.first_name, customer.last_name, customer.postal_code, customer.address_line1
    )


async def stamp(db: Db, customer: Customer) -> None:
    """Mark a change: the customer moves to the head of the export feed."""
    customer.change_position = await repository.next_position(db)
    customer.updated_at = utcnow()


def consent_state(consent: ConsentUpdate, now: dt.datetime) -> dict[str, Any]:
    recorded_at = consent.recorded_at or now
    return {
        "granted": consent.granted,
        "source": consent.source,
        "recorded_at": recorded_at.isoformat(),
    }


async def read_customer(database: Database, customer_id: uuid.UUID) -> CustomerRead:
    row = await repository.get_live(database, customer_id)
    if row is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    return customer_read(row)


async def get_customer(db: Db, customer_id: uuid.UUID) -> CustomerRead:
    row = await repository.get_row(db, customer_id)
    if row is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    return customer_read(row)


async def load_for_update(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    customer = await repository.get_for_update(session, customer_id)
    if customer is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    return customer


async def _ensure_unique(
    db: Db, *, email: str | None, external_ref: str | None, excluding: uuid.UUID | None = None
) -> None:
    taken = await repository.find_conflicts(
        db, email=email, external_ref=external_ref, excluding=excluding
    )
    if taken:
        raise CustomerExists(
            f"Another customer already has this {' and '.join(taken)}.", fields=taken
        )


async def _check_referrer(db: Db, customer_id: uuid.UUID | None, referrer: uuid.UUID) -> None:
    if customer_id == referrer:
        raise SelfReferral("A customer cannot be their own referrer.")
    if not await repository.exists_live(db, referrer):
        raise ReferrerNotFound(f"No customer {referrer} to refer from.")
    if customer_id is not None and customer_id in await repository.referral_ancestors(db, referrer):
        raise ReferralCycle(
            f"Customer {referrer} was itself referred, directly or not, by this one."
        )


async def create_customer(session: AsyncSession, payload: CustomerCreate) -> CustomerRead:
    await _ensure_unique(session, email=payload.email, external_ref=payload.external_ref)
    if payload.referred_by is not None:
        await _check_referrer(session, None, payload.referred_by)
    now = utcnow()
    tags = sorted(set(payload.tags))
    customer = Customer(
        external_ref=payload.external_ref,
        email=payload.email,
        first_name=payload.first_name,
        last_name=payload.last_name,
        phone=payload.phone,
        locale=payload.locale,
        lifecycle_stage=payload.lifecycle_stage.value,
        referred_by=payload.referred_by,
        tags=tags,
        consents={c.channel.value: consent_state(c, now) for c in payload.consents},
        change_position=await repository.next_position(session),
        created_at=now,
        updated_at=now,
        **_address_columns(payload.address),
    )
    refresh_match_keys(customer)
    session.add(customer)
    await session.flush()
    await repository.add_tags(session, customer.id, tags)
    if payload.referred_by is not None:
        await repository.add_event(
            session, payload.referred_by, "referred", {"customer_id": str(customer.id)}
        )
    return customer_read(customer)


def _address_columns(address: Address | None) -> dict[str, Any]:
    if address is None:
        return dict.fromkeys(ADDRESS_FIELDS.values())
    return {column: getattr(address, wire) for wire, column in ADDRESS_FIELDS.items()}


async def update_customer(
    session: AsyncSession, customer_id: uuid.UUID, payload: CustomerUpdate
) -> CustomerRead:
    customer = await load_for_update(session, customer_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"address"})
    if "email" in changes or "external_ref" in changes:
        await _ensure_unique(
            session,
            email=changes.get("email"),
            external_ref=changes.get("external_ref"),
            excluding=customer.id,
        )
    if changes.get("referred_by") is not None:
        await _check_referrer(session, customer.id, changes["referred_by"])
    if "address" in payload.model_fields_set:
        # A new address replaces the old one whole: half of two addresses is none.
        changes.update(_address_columns(payload.address))
    changed = [field for field, value in changes.items() if getattr(customer, field) != value]
    if not changed:
        return customer_read(customer)
    for field in changed:
        setattr(customer, field, changes[field])
    refresh_match_keys(customer)
    await stamp(session, customer)
    await repository.add_event(session, customer.id, "updated", {"fields": sorted(changed)})
    if "referred_by" in changed and customer.referred_by is not None:
        await repository.add_event(
            session, customer.referred_by, "referred", {"customer_id": str(customer.id)}
        )
    return customer_read(customer)


async def delete_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    customer = await load_for_update(session, customer_id)
    customer.deleted_at = utcnow()
    await stamp(session, customer)
    await repository.add_event(session, customer.id, "deleted")


async def add_tags(
    session: AsyncSession, customer_id: uuid.UUID, tags: Sequence[str]
) -> CustomerRead:
    customer = await load_for_update(session, customer_id)
    new = sorted(set(tags) - set(customer.tags))
    if new:
        customer.tags = sorted([*customer.tags, *new])
        await repository.add_tags(session, customer.id, new)
        await stamp(session, customer)
        await repository.add_event(session, customer.id, "tagged", {"tags": new})
    return customer_read(customer)


async def remove_tag(session: AsyncSession, customer_id: uuid.UUID, tag: str) -> CustomerRead:
    customer = await load_for_update(session, customer_id)
    if tag in customer.tags:
        customer.tags = [t for t in customer.tags if t != tag]
        await repository.remove_tags(session, customer.id, [tag])
        await stamp(session, customer)
        await repository.add_event(session, customer.id, "untagged", {"tags": [tag]})
    return customer_read(customer)


async def set_consent(
    session: AsyncSession, customer_id: uuid.UUID, channel: ConsentChannel, consent: ConsentUpdate
) -> CustomerRead:
    """Record a consent given or withdrawn; the most recent statement of the customer wins."""
    customer = await load_for_update(session, customer_id)
    state = consent_state(consent, utcnow())
    current = customer.consents.get(channel.value)
    if current is not None and current["recorded_at"] > state["recorded_at"]:
        return customer_read(customer)
    customer.consents = {**customer.consents, channel.value: state}
    await stamp(session, customer)
    await repository.add_event(
        session, customer.id, "consent_changed", {"channel": channel.value, **state}
    )
    return customer_read(customer)


def consent_update(consent: ConsentIn) -> ConsentUpdate:
    return ConsentUpdate(
        granted=consent.granted, source=consent.source, recorded_at=consent.recorded_at
    )


async def list_customers(
    db: AsyncConnection, filters: CustomerFilters, *, limit: int, cursor: str | None
) -> Page[CustomerRead]:
    after = uuid_after(cursor)
    rows = await repository.list_rows(db, filters, after=after, limit=limit)
    return Page(
        items=[customer_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.id)]),
    )


async def existing_customers(db: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `ids` that name a live customer, in the order asked, each once."""
    unique = list(dict.fromkeys(ids))
    live = await repository.live_ids(db, unique)
    return [customer_id for customer_id in unique if customer_id in live]


async def list_referrals(
    db: AsyncConnection, customer_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[CustomerRead]:
    await get_customer(db, customer_id)
    return await list_customers(
        db, CustomerFilters(referred_by=customer_id), limit=limit, cursor=cursor
    )


async def list_tags(db: AsyncConnection, *, limit: int, cursor: str | None) -> Page[TagCount]:
    after = str(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = await repository.tag_counts(db, after=after, limit=limit)
    return Page(
        items=[TagCount(tag=row.tag, customers=row.customers) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [row.tag]),
    )


async def timeline(
    db: AsyncConnection, customer_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[TimelineEvent]:
    await get_customer(db, customer_id)
    after = uuid_after(cursor)
    rows = await repository.timeline_rows(db, customer_id, after=after, limit=limit)
    return Page(
        items=[
            TimelineEvent(id=row.id, at=row.at, kind=row.kind, data=row.data or {})
            for row in rows[:limit]
        ],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.id)]),
    )


def change_of(row: Any) -> CustomerChange:
    if row.erased_at is not None:
        kind = ChangeKind.erased
    elif row.merged_into is not None:
        kind = ChangeKind.merged
    elif row.deleted_at is not None:
        kind = ChangeKind.deleted
    else:
        kind = ChangeKind.upsert
    return CustomerChange(
        position=row.change_position,
        change=kind,
        id=row.id,
        merged_into=row.merged_into,
        changed_at=row.updated_at,
        customer=None if kind is ChangeKind.erased else customer_read(row),
    )


def export_changes(
    database: Database, after: int, limit: int | None, page_size: int = 1000
) -> AsyncIterator[bytes]:
    """NDJSON lines of every customer changed after `after`, oldest change first."""
    return feed_lines(database, repository.changes_after, change_of, after, limit, page_size)
