"""The logic of interactions: each event stored once, read back per customer and per product.

One event and a batch of 50,000 take the same path: products resolved in one lookup,
replays recognised by their event id, positions taken as one block, rows written in one
statement (a binary COPY on PostgreSQL). An erased customer's events are stored without
their review text and session id (see `crm_orders.erasure`).
"""

from __future__ import annotations

import datetime as dt
import heapq
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.catalogue.errors import ProductNotFound
from crm_orders.erasure import service as erasure
from crm_orders.interactions import repository
from crm_orders.interactions.errors import UnknownProduct
from crm_orders.interactions.parsing import Event, EventParser, event_of
from crm_shared.bulk import MAX_REPORTED_ERRORS, RowErrors, ndjson_batches
from crm_shared.db import utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.ids import uuid7_block
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.common import FieldError, Page
from crm_shared.schemas.interactions import (
    InteractionBatchReport,
    InteractionCreate,
    InteractionRead,
    ReviewRead,
)

# Lines handed from the body reader to validation at a time.
_LINES_PER_STEP = 1000
BOM = b"\xef\xbb\xbf"


def interaction_read(row: Any) -> InteractionRead:
    return InteractionRead(
        id=row.id,
        event_id=row.event_id,
        kind=row.kind,
        customer_id=row.customer_id,
        session_id=row.session_id,
        product_id=row.product_id,
        rating=row.rating,
        review_text=row.review_text,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
    )


def review_read(row: Any) -> ReviewRead:
    return ReviewRead(
        id=row.id,
        product_id=row.product_id,
        customer_id=row.customer_id,
        rating=row.rating,
        text=row.review_text,
        occurred_at=row.occurred_at,
    )


@dataclass
class _Stored:
    """What became of the valid events: rows written, replays, and who named no product."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    duplicates: int = 0
    unknown_product: RowErrors = field(default_factory=RowErrors)


async def _store(session: AsyncSession, events: Sequence[Event]) -> _Stored:
    stored = _Stored()
    products = await _products(session, events)
    # One pass: each event's product, and whether it came earlier in the batch.
    fresh: list[Event] = []
    product_ids: list[uuid.UUID] = []
    seen: set[str] = set()
    for event in events:
        if event.sku is not None:
            product_id = products.get(event.sku)
        else:
            product_id = products.get(str(event.product_id))
        if product_id is None:
            stored.unknown_product.reject(event.row, [_no_product(event)])
            continue
        if event.event_id is not None:
            if event.event_id in seen:
                stored.duplicates += 1
                continue
            seen.add(event.event_id)
        fresh.append(event)
        product_ids.append(product_id)
    replayed: set[str] = set()
    if seen:
        await repository.lock_feed(session)
        replayed = await repository.stored_event_ids(session, list(seen))
        stored.duplicates += len(replayed)
    count = len(fresh) - len(replayed)
    if count == 0:
        return stored
    erased = await erasure.erased_among(session, _personal_customers(fresh))
    position = await repository.next_positions(session, count)
    ids = iter(uuid7_block(count))
    received_at = utcnow()
    records = stored.records
    for event, product_id in zip(fresh, product_ids, strict=True):
        if replayed and event.event_id in replayed:
            continue
        review_text, session_id = event.review_text, event.session_id
        if erased and event.customer_id in erased:
            review_text = None if review_text is None else erasure.REDACTED
            session_id = None
        records.append(
            (
                next(ids),
                event.event_id,
                event.kind,
                event.customer_id,
                session_id,
                product_id,
                event.rating,
                review_text,
                event.occurred_at,
                received_at,
                position,
            )
        )
        position += 1
    await repository.insert_interactions(session, records)
    return stored


def _personal_customers(events: Sequence[Event]) -> set[uuid.UUID]:
    """The customers of the events that carry personal text (a review, a session id)."""
    return {
        event.customer_id
        for event in events
        if event.customer_id is not None
        and (event.review_text is not None or event.session_id is not None)
    }


async def _products(session: AsyncSession, events: Sequence[Event]) -> dict[str, uuid.UUID]:
    """The products the events name, by sku and by id (as its string) alike."""
    skus = {event.sku for event in events if event.sku is not None}
    ids = {event.product_id for event in events if event.product_id is not None}
    found: dict[str, uuid.UUID] = {}
    for row in await repository.products_by_ref(session, sorted(skus), sorted(ids)):
        found[row.sku] = row.id
        found[str(row.id)] = row.id
    return found


def _no_product(event: Event) -> FieldError:
    if event.sku is not None:
        field_name, value = "sku", event.sku
    else:
        field_name, value = "product_id", str(event.product_id)
    return FieldError(field=field_name, message=f"no product {value}", code="unknown_product")


async def record_interaction(
    session: AsyncSession, payload: InteractionCreate
) -> tuple[InteractionRead, bool]:
    """Store one event; `(event, False)` for a replay, with the event as first stored."""
    stored = await _store(session, [event_of(payload)])
    if stored.records:
        columns = dict(zip(repository.COLUMNS, stored.records[0], strict=True))
        return InteractionRead.model_validate(columns), True
    if stored.unknown_product.rejected:
        reference = "sku" if payload.sku is not None else "product_id"
        value = payload.sku if payload.sku is not None else payload.product_id
        raise UnknownProduct(f"No product with {reference} {value}.", field=reference)
    # Neither stored nor unknown: a replay, which only an event id can be.
    existing = (
        None
        if payload.event_id is None
        else await repository.get_by_event_id(session, payload.event_id)
    )
    if existing is None:
        raise RuntimeError("an event was neither stored nor found stored")
    return interaction_read(existing), False


async def ingest_batch(
    session: AsyncSession, chunks: AsyncIterator[bytes], *, max_events: int
) -> InteractionBatchReport:
    """Validate every line of a streamed NDJSON body and store the valid new events.

    The body is read and validated line by line as it arrives; the database is only
    touched once it has all been read, so a slow client holds no lock.
    """
    invalid = RowErrors()
    events: list[Event] = []
    received = 0
    lines_of = ndjson_batches(_without_bom(chunks), batch_size=_LINES_PER_STEP, max_rows=max_events)
    parse = EventParser(utcnow()).parse
    async for lines in lines_of:
        for row, line in lines:
            parsed = parse(row, line)
            if isinstance(parsed, Event):
                events.append(parsed)
            else:
                invalid.reject(parsed.row, parsed.errors)
        received = lines[-1][0]
    stored = await _store(session, events)
    unknown = stored.unknown_product
    # Both lists are in row order: merged, their head is the batch's first errors.
    listed = list(
        islice(
            heapq.merge(invalid.listed, unknown.listed, key=lambda error: error.row),
            MAX_REPORTED_ERRORS,
        )
    )
    rejected = invalid.rejected + unknown.rejected
    return InteractionBatchReport(
        received=received,
        inserted=len(stored.records),
        duplicates=stored.duplicates,
        rejected=rejected,
        errors=listed,
        errors_truncated=rejected > len(listed),
    )


async def _without_bom(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body without the UTF-8 byte order mark some Windows tools put first."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= len(BOM):
            break
    yield head.removeprefix(BOM)
    async for chunk in chunks:
        yield chunk


def _before(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The (occurred_at, id) a cursor of a newest-first list carries."""
    if cursor is None:
        return None
    at, last_id = decode_cursor(cursor, 2)
    try:
        occurred_at = dt.datetime.fromisoformat(str(at))
        interaction_id = uuid.UUID(str(last_id))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list.") from exc
    if occurred_at.tzinfo is None:
        raise InvalidCursor("The cursor does not belong to this list.")
    return occurred_at, interaction_id


def _cursor_key(row: Any) -> list[str]:
    return [row.occurred_at.isoformat(), str(row.id)]


async def customer_interactions(
    db: AsyncConnection,
    customer_id: uuid.UUID,
    *,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> Page[InteractionRead]:
    rows = await repository.customer_rows(
        db, customer_id, kind=kind, before=_before(cursor), limit=limit
    )
    return Page(
        items=[interaction_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, _cursor_key),
    )


async def product_reviews(
    db: AsyncConnection, product_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[ReviewRead]:
    before = _before(cursor)
    if not await repository.product_exists(db, product_id):
        raise ProductNotFound(f"No product {product_id}.")
    rows = await repository.review_rows(db, product_id, before=before, limit=limit)
    return Page(
        items=[review_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, _cursor_key),
    )
