"""All SQL of the topics domain: applying the review and ticket feeds, erasure, storing a
run's topics and reading them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, String, cast, delete, insert, select, tuple_, update

from crm_analytics.database import Db, Rows
from crm_analytics.segments.models import segment_members
from crm_analytics.sync.models import ERASED, MERGED, customers
from crm_analytics.topics.models import (
    feedback_tickets,
    product_topics,
    reviews,
    segment_keywords,
    ticket_group_members,
    ticket_groups,
)
from crm_shared.db import upsert

REVIEW_KINDS = frozenset({"rating", "review"})
TICKET_KINDS = frozenset({"complaint", "feedback"})
# Keys per IN list: far below SQLite's limit of bind parameters.
_IN_CHUNK = 5000


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


def _latest(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per id, the last: one upsert statement must not touch a row twice."""
    return list({line["id"]: line for line in lines}.values())


async def _erased_among(db: Db, customer_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for chunk in _chunks(sorted(customer_ids)):
        statement = select(customers.c.id).where(
            customers.c.id.in_(chunk), customers.c.status == ERASED
        )
        found.update((await db.execute(statement)).scalars())
    return found


async def apply_reviews(db: Db, lines: list[dict[str, Any]]) -> None:
    """Ratings and reviews of the interactions feed; the other kinds are not kept, nor
    anything of a customer already erased."""
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.UUID(line["id"]),
            "customer_id": uuid.UUID(line["customer_id"]) if line.get("customer_id") else None,
            "product_id": uuid.UUID(line["product_id"]),
            "rating": line.get("rating"),
            "review_text": line.get("review_text"),
            "occurred_at": dt.datetime.fromisoformat(line["occurred_at"]),
            "position": int(line["position"]),
        }
        for line in _latest(lines)
        if line["kind"] in REVIEW_KINDS
    ]
    erased = await _erased_among(db, {row["customer_id"] for row in rows if row["customer_id"]})
    await upsert(db, reviews, [row for row in rows if row["customer_id"] not in erased], ["id"])


async def apply_tickets(db: Db, lines: list[dict[str, Any]]) -> None:
    """Complaint and feedback tickets at their latest state; a redacted one (its customer
    was erased) leaves the copy and every group it was in."""
    kept: list[dict[str, Any]] = []
    gone: list[uuid.UUID] = []
    for line in _latest(lines):
        if line["kind"] not in TICKET_KINDS:
            continue
        row = {
            "id": uuid.UUID(line["id"]),
            "customer_id": uuid.UUID(line["customer_id"]),
            "kind": line["kind"],
            "subject": line["subject"],
            "body": line["body"],
            "status": line["status"],
            "created_at": dt.datetime.fromisoformat(line["created_at"]),
            "changed_at": dt.datetime.fromisoformat(line["updated_at"]),
            "position": int(line["position"]),
        }
        if line.get("redacted"):
            gone.append(row["id"])
        else:
            kept.append(row)
    erased = await _erased_among(db, {row["customer_id"] for row in kept})
    gone.extend(row["id"] for row in kept if row["customer_id"] in erased)
    await upsert(db, feedback_tickets, [r for r in kept if r["customer_id"] not in erased], ["id"])
    await _forget_tickets(db, gone)


async def _forget_tickets(db: Db, ticket_ids: Sequence[uuid.UUID]) -> None:
    """The tickets leave the copy, and every stored group that contained one goes too (its
    keywords may carry their words) until the next run groups the rest again."""
    for chunk in _chunks(ticket_ids):
        statement = select(ticket_group_members.c.run_id, ticket_group_members.c.group_number)
        groups = (
            await db.execute(statement.where(ticket_group_members.c.ticket_id.in_(chunk)))
        ).all()
        keys = list({(row.run_id, row.group_number) for row in groups})
        for key_chunk in _chunks(keys):
            await db.execute(
                delete(ticket_group_members).where(
                    tuple_(ticket_group_members.c.run_id, ticket_group_members.c.group_number).in_(
                        key_chunk
                    )
                )
            )
            await db.execute(
                delete(ticket_groups).where(
                    tuple_(ticket_groups.c.run_id, ticket_groups.c.group_number).in_(key_chunk)
                )
            )
        await db.execute(delete(feedback_tickets).where(feedback_tickets.c.id.in_(chunk)))


async def forget_customers(db: Db, customer_ids: Sequence[uuid.UUID]) -> None:
    """An erased customer's reviews and tickets leave the copy, and the stored outputs
    their text went into are withdrawn: the keywords of the products they reviewed, the
    review keywords of the segments they were in, the ticket groups of their tickets.
    Ratings stay in the stored averages and trends: numbers, no text. Must run before the
    customer's segment memberships are dropped."""
    for chunk in _chunks(customer_ids):
        written = select(reviews.c.product_id).where(
            reviews.c.customer_id.in_(chunk), reviews.c.review_text.is_not(None)
        )
        products = list(set((await db.execute(written)).scalars()))
        if products:
            for product_chunk in _chunks(products):
                await db.execute(
                    update(product_topics)
                    .where(product_topics.c.product_id.in_(product_chunk))
                    .values(keywords=[])
                )
            statement = select(segment_members.c.run_id, segment_members.c.segment_id).where(
                segment_members.c.customer_id.in_(chunk)
            )
            memberships = list({tuple(row) for row in (await db.execute(statement)).all()})
            for key_chunk in _chunks(memberships):
                await db.execute(
                    delete(segment_keywords).where(
                        tuple_(segment_keywords.c.run_id, segment_keywords.c.segment_id).in_(
                            key_chunk
                        )
                    )
                )
        await db.execute(delete(reviews).where(reviews.c.customer_id.in_(chunk)))
        owned = select(feedback_tickets.c.id).where(feedback_tickets.c.customer_id.in_(chunk))
        await _forget_tickets(db, list((await db.execute(owned)).scalars()))


async def review_rows(db: Db) -> Rows:
    """Every review and rating, ids as text."""
    statement = select(
        cast(reviews.c.id, String).label("id"),
        cast(reviews.c.customer_id, String).label("customer_id"),
        cast(reviews.c.product_id, String).label("product_id"),
        reviews.c.rating,
        reviews.c.review_text,
        reviews.c.occurred_at,
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def ticket_rows(db: Db) -> Rows:
    statement = select(
        cast(feedback_tickets.c.id, String).label("id"),
        feedback_tickets.c.kind,
        feedback_tickets.c.subject,
        feedback_tickets.c.body,
        feedback_tickets.c.created_at,
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def merges(db: Db) -> dict[str, str]:
    """Merged customers and the customer each was merged into, ids as text."""
    statement = select(
        cast(customers.c.id, String).label("id"),
        cast(customers.c.merged_into, String).label("merged_into"),
    ).where(customers.c.status == MERGED, customers.c.merged_into.is_not(None))
    return {row.id: row.merged_into for row in (await db.execute(statement)).all()}


async def memberships(db: Db, run_id: uuid.UUID) -> Rows:
    statement = select(
        segment_members.c.segment_id,
        cast(segment_members.c.customer_id, String).label("customer_id"),
    ).where(segment_members.c.run_id == run_id)
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def add_product_topics(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(product_topics), list(rows))


async def add_ticket_groups(
    db: Db, groups: Sequence[dict[str, Any]], members: Sequence[dict[str, Any]]
) -> None:
    if groups:
        await db.execute(insert(ticket_groups), list(groups))
    if members:
        await db.execute(insert(ticket_group_members), list(members))


async def add_segment_keywords(db: Db, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(segment_keywords), list(rows))


async def drop_other_runs(db: Db, run_id: uuid.UUID) -> None:
    """Only the given run's topics stay."""
    for table in (product_topics, segment_keywords, ticket_group_members, ticket_groups):
        await db.execute(delete(table).where(table.c.run_id != run_id))


async def drop_run(db: Db, run_id: uuid.UUID) -> None:
    for table in (product_topics, segment_keywords, ticket_group_members, ticket_groups):
        await db.execute(delete(table).where(table.c.run_id == run_id))


async def product_topic(db: Db, run_id: uuid.UUID, product_id: uuid.UUID) -> Row[Any] | None:
    statement = select(product_topics).where(
        product_topics.c.run_id == run_id, product_topics.c.product_id == product_id
    )
    return (await db.execute(statement)).first()


async def segment_keyword_row(db: Db, run_id: uuid.UUID, segment_id: str) -> Row[Any] | None:
    statement = select(segment_keywords).where(
        segment_keywords.c.run_id == run_id, segment_keywords.c.segment_id == segment_id
    )
    return (await db.execute(statement)).first()


async def list_groups(
    db: Db, run_id: uuid.UUID, kind: str | None, after: int | None, limit: int
) -> Rows:
    """One page of the run's groups, largest first (by group number); `limit + 1` rows."""
    statement = select(ticket_groups).where(ticket_groups.c.run_id == run_id)
    if kind is not None:
        statement = statement.where(ticket_groups.c.kind == kind)
    if after is not None:
        statement = statement.where(ticket_groups.c.group_number > after)
    statement = statement.order_by(ticket_groups.c.group_number).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows
