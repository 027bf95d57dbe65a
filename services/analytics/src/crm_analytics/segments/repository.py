"""All SQL of segments: custom definitions, memberships per run, sizes and member lists."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Uuid,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from crm_analytics.database import Db, Rows
from crm_analytics.insights.repository import REFERRAL_RULE_COLUMNS
from crm_analytics.runs.models import customer_scores, runs
from crm_analytics.segments.models import segment_members, segment_sizes, segments
from crm_analytics.segments.rules import FIELDS, Columns
from crm_analytics.sync.models import LIVE, customer_tags, customers
from crm_shared.db import upsert, utcnow

_CUSTOMER_FIELDS = ("country", "city", "locale", "created_at", "consent_email", "consent_sms")

RULE_COLUMNS = Columns(
    fields={
        **{
            name: (customers.c[name] if name in _CUSTOMER_FIELDS else customer_scores.c[name])
            for name in FIELDS
            if name != "tags" and name not in REFERRAL_RULE_COLUMNS
        },
        **REFERRAL_RULE_COLUMNS,
    },
    customer_id=customer_scores.c.customer_id,
    tag_customer=customer_tags.c.customer_id,
    tag=customer_tags.c.tag,
)

# Deleted and erased customers never appear in a segment, whatever their scores say; a
# customer the customer feed has not brought yet (no row) is kept.
_SHOWN = or_(customers.c.status.is_(None), customers.c.status == LIVE)
_SCORED = customer_scores.outerjoin(customers, customers.c.id == customer_scores.c.customer_id)


async def custom_segments(db: Db) -> Rows:
    rows: Rows = (await db.execute(select(segments).order_by(segments.c.id))).all()
    return rows


async def get_segment(db: Db, segment_id: uuid.UUID) -> Row[Any] | None:
    row: Row[Any] | None = (
        await db.execute(select(segments).where(segments.c.id == segment_id))
    ).first()
    return row


async def segment_named(db: Db, name: str) -> uuid.UUID | None:
    statement = select(segments.c.id).where(func.lower(segments.c.name) == name.lower())
    found: uuid.UUID | None = (await db.execute(statement)).scalar_one_or_none()
    return found


async def add_segment(db: Db, values: dict[str, Any]) -> None:
    await db.execute(insert(segments).values(**values))


async def update_segment(db: Db, segment_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(segments).where(segments.c.id == segment_id).values(**values))


async def delete_segment(db: Db, segment_id: uuid.UUID) -> None:
    key = str(segment_id)
    await db.execute(delete(segment_members).where(segment_members.c.segment_id == key))
    await db.execute(delete(segment_sizes).where(segment_sizes.c.segment_id == key))
    await db.execute(delete(segments).where(segments.c.id == segment_id))


async def add_members(
    db: Db, run_id: uuid.UUID, segment_id: str, condition: ColumnElement[bool]
) -> None:
    """Store the members of one segment in one run: one INSERT ... SELECT."""
    chosen = (
        select(
            literal(run_id, Uuid),
            literal(segment_id, String),
            customer_scores.c.customer_id,
        )
        .select_from(_SCORED)
        .where(customer_scores.c.run_id == run_id, _SHOWN, condition)
    )
    await db.execute(
        insert(segment_members).from_select(["run_id", "segment_id", "customer_id"], chosen)
    )


async def drop_members(db: Db, run_id: uuid.UUID, segment_id: str) -> None:
    await db.execute(
        delete(segment_members).where(
            segment_members.c.run_id == run_id, segment_members.c.segment_id == segment_id
        )
    )


async def measure(db: Db, run_id: uuid.UUID, segment_ids: Sequence[str]) -> int:
    """Store the size and revenue of these segments in the run; returns their members."""
    statement = (
        select(
            segment_members.c.segment_id,
            func.count().label("customers"),
            func.coalesce(func.sum(customer_scores.c.monetary), 0.0).label("revenue"),
        )
        .join(
            customer_scores,
            (customer_scores.c.run_id == segment_members.c.run_id)
            & (customer_scores.c.customer_id == segment_members.c.customer_id),
        )
        .where(segment_members.c.run_id == run_id, segment_members.c.segment_id.in_(segment_ids))
        .group_by(segment_members.c.segment_id)
    )
    found = {row.segment_id: row for row in (await db.execute(statement)).all()}
    now = utcnow()
    rows = [
        {
            "segment_id": segment_id,
            "run_id": run_id,
            "customers": int(found[segment_id].customers) if segment_id in found else 0,
            "revenue": float(found[segment_id].revenue) if segment_id in found else 0.0,
            "measured_at": now,
        }
        for segment_id in segment_ids
    ]
    await upsert(db, segment_sizes, rows, key=["segment_id", "run_id"])
    return sum(int(found[key].customers) for key in segment_ids if key in found)


async def sizes_in_run(db: Db, run_id: uuid.UUID) -> dict[str, Row[Any]]:
    statement = select(segment_sizes).where(segment_sizes.c.run_id == run_id)
    return {row.segment_id: row for row in (await db.execute(statement)).all()}


async def history(db: Db, segment_id: str, after: uuid.UUID | None, limit: int) -> Rows:
    """The segment's size in each run, newest run first (run ids sort by time)."""
    statement = (
        select(
            segment_sizes.c.run_id,
            segment_sizes.c.customers,
            segment_sizes.c.revenue,
            segment_sizes.c.measured_at,
            runs.c.as_of,
        )
        .join(runs, runs.c.id == segment_sizes.c.run_id)
        .where(segment_sizes.c.segment_id == segment_id)
    )
    if after is not None:
        statement = statement.where(segment_sizes.c.run_id < after)
    statement = statement.order_by(segment_sizes.c.run_id.desc()).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


MEMBER_COLUMNS = (
    customer_scores.c.customer_id,
    customers.c.email,
    customers.c.first_name,
    customers.c.last_name,
    customers.c.phone,
    customers.c.country,
    func.coalesce(customers.c.consent_email, False).label("consent_email"),
    func.coalesce(customers.c.consent_sms, False).label("consent_sms"),
    customer_scores.c.rfm_segment,
    customer_scores.c.value_tier,
    customer_scores.c.lifecycle_stage,
    customer_scores.c.frequency,
    customer_scores.c.monetary,
    customer_scores.c.clv,
    customer_scores.c.last_purchase_at,
)


async def members(
    db: Db,
    run_id: uuid.UUID,
    segment_id: str,
    *,
    consent_channel: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> Rows:
    """A page of the segment's members in the run, by customer id; `limit + 1` rows."""
    consent: ColumnElement[bool] = true()
    if consent_channel is not None:
        consent = customers.c[f"consent_{consent_channel}"].is_(True)
    statement = (
        select(*MEMBER_COLUMNS)
        .select_from(
            segment_members.join(
                customer_scores,
                (customer_scores.c.run_id == segment_members.c.run_id)
                & (customer_scores.c.customer_id == segment_members.c.customer_id),
            ).outerjoin(customers, customers.c.id == segment_members.c.customer_id)
        )
        .where(
            segment_members.c.run_id == run_id,
            segment_members.c.segment_id == segment_id,
            _SHOWN,
            consent,
        )
    )
    if after is not None:
        statement = statement.where(segment_members.c.customer_id > after)
    statement = statement.order_by(segment_members.c.customer_id).limit(limit + 1)
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def memberships(db: Db, run_id: uuid.UUID, customer_id: uuid.UUID) -> list[str]:
    statement = (
        select(segment_members.c.segment_id)
        .where(segment_members.c.run_id == run_id, segment_members.c.customer_id == customer_id)
        .order_by(segment_members.c.segment_id)
    )
    return list((await db.execute(statement)).scalars())
