"""Finding likely duplicate customers by their match keys, and merging one into another."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_customer.customers import repository as customers_repository
from crm_customer.customers.errors import CustomerNotFound
from crm_customer.customers.models import Customer
from crm_customer.customers.service import ADDRESS_FIELDS, customer_read, refresh_match_keys, stamp
from crm_customer.duplicates import repository
from crm_customer.duplicates.errors import AlreadyMerged, DuplicateNotFound, MergeIntoSelf
from crm_customer.tickets import repository as tickets_repository
from crm_shared.db import utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.common import Page
from crm_shared.schemas.customers import DuplicateGroup, DuplicateMatch, MergeRequest, MergeResult

# A key shared by thousands (a shop's placeholder phone number) must not make one group
# the size of the table; `size` still says how many share it.
MAX_GROUP_MEMBERS = 100

KINDS: tuple[DuplicateMatch, ...] = tuple(DuplicateMatch)
KEY_OF_KIND = {
    DuplicateMatch.email: "email_key",
    DuplicateMatch.phone: "phone_key",
    DuplicateMatch.name_address: "name_address_key",
}
# Fields the survivor takes from the duplicate when it has none of its own.
MISSING_FIELDS = ("external_ref", "email", "first_name", "last_name", "phone", "locale")
# Unique among live customers: the duplicate gives them up before the survivor takes them.
LIVE_UNIQUE_FIELDS = ("external_ref", "email")
ADDRESS_COLUMNS = tuple(ADDRESS_FIELDS.values())


@dataclass(frozen=True)
class _SharedKey:
    kind: DuplicateMatch
    key: str
    size: int


async def list_duplicates(
    db: AsyncConnection, match: DuplicateMatch | None, *, limit: int, cursor: str | None
) -> Page[DuplicateGroup]:
    """Groups of live customers sharing a key, ordered by (kind, key).

    Each kind is one GROUP BY over its key's index, resumed after the cursor's key, so a
    page costs at most one such query and one member lookup per kind.
    """
    kinds = (match,) if match is not None else KINDS
    start, after = _start_of(cursor, kinds)
    shared: list[_SharedKey] = []
    for kind in kinds[kinds.index(start) :]:
        wanted = limit + 1 - len(shared)
        if wanted <= 0:
            break
        rows = await repository.shared_keys(
            db, kind.value, after=after if kind is start else None, limit=wanted
        )
        shared.extend(_SharedKey(kind, row.key, row.size) for row in rows)
    groups: list[DuplicateGroup] = []
    for kind in kinds:
        groups.extend(await _groups(db, kind, [s for s in shared[:limit] if s.kind is kind]))
    return Page(
        items=groups,
        next_cursor=next_cursor(shared, limit, lambda s: [s.kind.value, s.key]),
    )


def _start_of(
    cursor: str | None, kinds: Sequence[DuplicateMatch]
) -> tuple[DuplicateMatch, str | None]:
    if cursor is None:
        return kinds[0], None
    kind, key = decode_cursor(cursor, 2)
    if kind not in {k.value for k in kinds} or not isinstance(key, str):
        raise InvalidCursor("The cursor does not belong to this list.")
    return DuplicateMatch(kind), key


async def _groups(
    db: AsyncConnection, kind: DuplicateMatch, shared: Sequence[_SharedKey]
) -> list[DuplicateGroup]:
    members = await repository.group_members(
        db, kind.value, [s.key for s in shared], MAX_GROUP_MEMBERS
    )
    ids_by_key: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row in members:
        ids_by_key[row.key].append(row.id)
    return [
        DuplicateGroup(match=kind, size=s.size, customer_ids=ids_by_key[s.key])
        for s in shared
        # A merge or deletion between the two queries can leave a key with one customer.
        if len(ids_by_key[s.key]) > 1
    ]


async def customer_duplicates(db: AsyncConnection, customer_id: uuid.UUID) -> list[DuplicateGroup]:
    """For each key this customer shares with another live one, the whole group."""
    row = await customers_repository.get_row(db, customer_id)
    if row is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    shared: list[_SharedKey] = []
    for kind in KINDS:
        key = getattr(row, KEY_OF_KIND[kind])
        if key is None:
            continue
        size = await repository.customers_with_key(db, kind.value, key)
        if size > 1:
            shared.append(_SharedKey(kind, key, size))
    groups: list[DuplicateGroup] = []
    for entry in shared:
        groups.extend(await _groups(db, entry.kind, [entry]))
    return groups


async def merge_customers(
    session: AsyncSession, survivor_id: uuid.UUID, request: MergeRequest
) -> MergeResult:
    """Fold the duplicate into the survivor; a dry run does the same work and undoes it.

    The work runs inside a savepoint that a dry run rolls back, so what a dry run shows
    is exactly what the merge would do.
    """
    if request.duplicate_id == survivor_id:
        raise MergeIntoSelf("A customer cannot be merged into itself.")
    survivor, duplicate = await _lock_pair(session, survivor_id, request.duplicate_id)
    if request.dry_run:
        # Its feed positions then roll back with the savepoint: the feeds stay as they were.
        # The duplicate's tickets are locked first: a ticket writer holding one of them
        # would otherwise wait for the held feed while the merge waits for its ticket.
        await tickets_repository.lock_customer_tickets(session, duplicate.id)
        await customers_repository.hold_feeds(session)
    async with session.begin_nested() as savepoint:
        result = await _merge(session, survivor, duplicate, dry_run=request.dry_run)
        if request.dry_run:
            await savepoint.rollback()
    return result


async def _lock_pair(
    session: AsyncSession, survivor_id: uuid.UUID, duplicate_id: uuid.UUID
) -> tuple[Customer, Customer]:
    locked = {
        customer.id: customer
        for customer in await repository.lock_pair(session, [survivor_id, duplicate_id])
    }
    survivor = locked.get(survivor_id)
    if survivor is None or _gone(survivor):
        if survivor is not None and survivor.merged_into is not None:
            raise CustomerNotFound(
                f"Customer {survivor_id} was merged into {survivor.merged_into}.",
                merged_into=str(survivor.merged_into),
            )
        raise CustomerNotFound(f"No customer {survivor_id}.")
    duplicate = locked.get(duplicate_id)
    if duplicate is not None and duplicate.merged_into is not None:
        raise AlreadyMerged(
            f"Customer {duplicate_id} was already merged into {duplicate.merged_into}.",
            merged_into=str(duplicate.merged_into),
        )
    if duplicate is None or _gone(duplicate):
        raise DuplicateNotFound(
            f"No customer {duplicate_id} to merge.", duplicate_id=str(duplicate_id)
        )
    return survivor, duplicate


def _gone(customer: Customer) -> bool:
    return customer.deleted_at is not None or customer.erased_at is not None


async def _merge(
    session: AsyncSession, survivor: Customer, duplicate: Customer, *, dry_run: bool
) -> MergeResult:
    now = utcnow()
    before = {column: getattr(survivor, column) for column in (*MISSING_FIELDS, *ADDRESS_COLUMNS)}
    original_referrer = survivor.referred_by
    taken = _missing_fields(survivor, duplicate)

    for field in LIVE_UNIQUE_FIELDS:
        if field in taken:
            setattr(duplicate, field, None)
    duplicate.deleted_at = now
    duplicate.merged_into = survivor.id
    refresh_match_keys(duplicate)
    await stamp(session, duplicate)
    # The duplicate must leave the live-unique indexes before the survivor takes its values.
    await session.flush()

    for field, value in taken.items():
        setattr(survivor, field, value)
    added_tags = sorted(set(duplicate.tags) - set(survivor.tags))
    if added_tags:
        survivor.tags = sorted({*survivor.tags, *added_tags})
        await customers_repository.add_tags(session, survivor.id, added_tags)
    survivor.consents = _merge_consents(survivor.consents, duplicate.consents)
    await tickets_repository.mark_customer_tickets_changed(session, duplicate.id)
    moved_tickets = await repository.move_tickets(session, duplicate.id, survivor.id)
    moved_referrals = await _move_referrals(session, survivor, duplicate, now)
    inherited_referrer = await _inherit_referrer(session, survivor, duplicate)
    refresh_match_keys(survivor)
    await stamp(session, survivor)

    changed = sorted(
        {column for column, value in before.items() if getattr(survivor, column) != value}
        | ({"tags"} if added_tags else set())
        | ({"referred_by"} if survivor.referred_by != original_referrer else set())
    )
    await customers_repository.add_event(
        session,
        survivor.id,
        "merged",
        {
            "merged_id": str(duplicate.id),
            "moved_tickets": moved_tickets,
            "moved_referrals": moved_referrals,
            "fields": changed,
        },
        at=now,
    )
    await customers_repository.add_event(
        session, duplicate.id, "merged_into", {"survivor_id": str(survivor.id)}, at=now
    )
    if inherited_referrer is not None:
        await customers_repository.add_event(
            session, inherited_referrer, "referred", {"customer_id": str(survivor.id)}, at=now
        )
    await session.flush()
    return MergeResult(
        dry_run=dry_run,
        survivor=customer_read(survivor),
        merged_id=duplicate.id,
        moved_tickets=moved_tickets,
        moved_referrals=moved_referrals,
        added_tags=added_tags,
    )


def _missing_fields(survivor: Customer, duplicate: Customer) -> dict[str, Any]:
    """What the survivor takes: the duplicate's values where it has none of its own."""
    taken = {
        field: getattr(duplicate, field)
        for field in MISSING_FIELDS
        if getattr(survivor, field) is None and getattr(duplicate, field) is not None
    }
    # An address is taken whole or not at all: half of two addresses is none.
    if all(getattr(survivor, column) is None for column in ADDRESS_COLUMNS):
        taken.update(
            (column, getattr(duplicate, column))
            for column in ADDRESS_COLUMNS
            if getattr(duplicate, column) is not None
        )
    return taken


def _merge_consents(survivor: dict[str, Any], duplicate: dict[str, Any]) -> dict[str, Any]:
    """Per channel, the customer's most recent statement wins; a tie keeps the survivor's."""
    merged = dict(survivor)
    for channel, state in duplicate.items():
        current = merged.get(channel)
        if current is None or _recorded_at(state) > _recorded_at(current):
            merged[channel] = state
    return merged


def _recorded_at(state: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(state["recorded_at"])


async def _move_referrals(
    session: AsyncSession, survivor: Customer, duplicate: Customer, now: dt.datetime
) -> int:
    """The customers the duplicate referred become the survivor's referrals."""
    if survivor.referred_by == duplicate.id:
        # Referred by itself under another name: that is no referral.
        survivor.referred_by = None
    await session.flush()
    # A customer above the survivor in its referral chain cannot also be below it: those
    # keep the duplicate as their referrer rather than close a cycle.
    above = await customers_repository.referral_ancestors(session, survivor.id)
    moved = await repository.live_referred_ids(session, duplicate.id, excluding=above)
    if moved:
        first = await customers_repository.next_position(session, len(moved))
        await repository.repoint_referrals(
            session, moved, survivor.id, first_position=first, at=now
        )
    return len(moved)


async def _inherit_referrer(
    session: AsyncSession, survivor: Customer, duplicate: Customer
) -> uuid.UUID | None:
    """A survivor without a referrer takes the duplicate's, unless that closes a cycle."""
    referrer = duplicate.referred_by
    if survivor.referred_by is not None or referrer is None:
        return None
    if not await customers_repository.exists_live(session, referrer):
        return None
    # The ancestors include the referrer itself, so this also refuses a self-referral.
    if survivor.id in await customers_repository.referral_ancestors(session, referrer):
        return None
    survivor.referred_by = referrer
    return referrer
