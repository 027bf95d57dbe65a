"""Following the customer feed for erasures, and what an erasure does to interactions.

The customer service reports an erasure as an `erased` line of its export feed. For each,
this service records the customer as erased and redacts their interactions: the review
text becomes the customer service's marker `[erased]` and the session id goes (orders,
their lines and amounts stay: they are the shop's accounting record, keyed by the
customer id alone). Each redacted interaction takes a new position of the interactions
feed, so its copies update and a reader starting from the beginning never sees the text.
Events ingested later for an erased customer are stored already redacted.

Redacting touches only interactions that still carry text, so replaying the feed changes
nothing more. Customers erased in the last hour are checked again on every pass: an event
whose transaction began before the erasure was recorded, and committed after it, is
caught on the next one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_orders.database import CUSTOMER_FEED, INTERACTION_FEED, feed_counter, sync_cursors
from crm_orders.erasure import repository
from crm_shared.db import Database, utcnow
from crm_shared.feed import take_positions
from crm_shared.schemas.customers import ChangeKind
from crm_shared.sync import BATCH_LINES, Line, pull_feed

CUSTOMER_FEED_PATH = "/v1/customers/export"
REDACTED = repository.REDACTED
# How long after an erasure its interactions are checked again for late writes.
RECHECK_AFTER_ERASURE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ErasureSync:
    """One pass: feed lines read, customers erased by them, interactions redacted."""

    lines: int
    position: int
    erased: int
    redacted: int


async def redact_customers(db: AsyncConnection, customer_ids: Iterable[uuid.UUID]) -> int:
    """Redact the interactions of these customers that still carry personal text."""
    interaction_ids = await repository.personal_interactions(db, customer_ids)
    if not interaction_ids:
        return 0
    first = await take_positions(db, feed_counter, INTERACTION_FEED, len(interaction_ids))
    await repository.redact_interactions(db, interaction_ids, first)
    return len(interaction_ids)


async def sync_erasures(
    database: Database, customers: httpx.AsyncClient, *, batch_lines: int = BATCH_LINES
) -> ErasureSync:
    """Apply the customer feed's erasures after the stored cursor, then check the recent
    erasures again. Raises `FeedUnavailable` when the customer service cannot be read; the
    batches applied before that stay applied."""
    erased = 0
    redacted = 0

    async def apply(db: AsyncConnection, lines: list[Line]) -> None:
        nonlocal erased, redacted
        rows: dict[uuid.UUID, dict[str, Any]] = {}
        now = utcnow()
        for line in lines:
            if line["change"] == ChangeKind.erased:
                customer_id = uuid.UUID(line["id"])
                changed_at = dt.datetime.fromisoformat(line["changed_at"])
                rows[customer_id] = {
                    "customer_id": customer_id,
                    "erased_at": changed_at,
                    "recorded_at": now,
                }
        if not rows:
            return
        await repository.record_erased(db, list(rows.values()))
        erased += len(rows)
        redacted += await redact_customers(db, rows)

    pulled = await pull_feed(
        database,
        sync_cursors,
        CUSTOMER_FEED,
        customers,
        CUSTOMER_FEED_PATH,
        apply,
        batch_lines=batch_lines,
    )
    async with database.engine.connect() as db:
        recent = await repository.erased_since(db, utcnow() - RECHECK_AFTER_ERASURE)
    if recent:
        async with database.writer() as db:
            redacted += await redact_customers(db, recent)
    return ErasureSync(pulled.lines, pulled.position, erased, redacted)


async def erased_among(db: repository.Db, customer_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `customer_ids` the customer service has erased, as far as the feed told."""
    return await repository.erased_among(db, customer_ids)
