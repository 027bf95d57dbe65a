"""All SQL of erasures: the erased customers, and their interactions' personal text."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Uuid, and_, any_, bindparam, case, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.erasure.models import ErasedCustomer
from crm_orders.interactions.models import Interaction
from crm_shared.db import dialect_of
from crm_shared.schemas.customers import ERASED_TEXT

erased_customers = ErasedCustomer.__table__  # type: ignore[attr-defined]
interactions = Interaction.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection

REDACTED = ERASED_TEXT
# Customer ids per IN list: far below SQLite's limit of bind parameters.
_IN_CHUNK = 5000


def _chunks(customer_ids: Iterable[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    ordered = sorted(set(customer_ids))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


async def record_erased(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    """Remember erased customers; one already known keeps its first record."""
    if not rows:
        return
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    statement = insert(erased_customers).on_conflict_do_nothing(index_elements=["customer_id"])
    await db.execute(statement, list(rows))


async def erased_among(db: Db, customer_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `customer_ids` that were erased."""
    wanted = set(customer_ids)
    if not wanted:
        return set()
    column = erased_customers.c.customer_id
    if dialect_of(db) == "postgresql":
        # One statement and one plan whatever the batch: an `= ANY` probe of one array.
        probe = column == any_(bindparam("ids", ARRAY(Uuid)))
        result = await db.execute(select(column).where(probe), {"ids": list(wanted)})
        return set(result.scalars())
    found: set[uuid.UUID] = set()
    for chunk in _chunks(wanted):
        found.update((await db.execute(select(column).where(column.in_(chunk)))).scalars())
    return found


async def erased_since(db: Db, moment: dt.datetime) -> list[uuid.UUID]:
    """The customers this service learnt were erased at or after `moment`."""
    statement = select(erased_customers.c.customer_id).where(
        erased_customers.c.recorded_at >= moment
    )
    return list((await db.execute(statement)).scalars())


async def personal_interactions(db: Db, customer_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The interactions of these customers that still carry a review text or a session id,
    in feed order."""
    text = interactions.c.review_text
    carries_personal = or_(
        and_(text.is_not(None), text != REDACTED), interactions.c.session_id.is_not(None)
    )
    found: list[tuple[int, uuid.UUID]] = []
    for chunk in _chunks(customer_ids):
        statement = select(interactions.c.change_position, interactions.c.id).where(
            interactions.c.customer_id.in_(chunk), carries_personal
        )
        found.extend((position, id_) for position, id_ in (await db.execute(statement)).all())
    return [interaction_id for _, interaction_id in sorted(found)]


async def redact_interactions(
    db: Db, interaction_ids: Sequence[uuid.UUID], first_position: int
) -> None:
    """Replace the review text by the marker and drop the session id of each interaction,
    moving it to a new feed position (from `first_position` on, one each), so the feed
    carries its redacted state and no longer its old one."""
    if not interaction_ids:
        return
    statement = (
        update(interactions)
        .where(interactions.c.id == bindparam("interaction_id"))
        .values(
            review_text=_redacted_text(),
            session_id=None,
            change_position=bindparam("position"),
        )
    )
    rows = [
        {"interaction_id": interaction_id, "position": first_position + offset}
        for offset, interaction_id in enumerate(interaction_ids)
    ]
    await db.execute(statement, rows)


def _redacted_text() -> Any:
    text = interactions.c.review_text
    return case((text.is_(None), None), else_=literal(REDACTED))
