"""All SQL of the copies: applying feed batches and reading what scoring needs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, String, cast, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_analytics.database import Rows
from crm_analytics.insights.models import customer_referrals
from crm_analytics.runs.models import customer_scores
from crm_analytics.segments.models import segment_members
from crm_analytics.sync.models import LIVE, customer_tags, customers, order_lines
from crm_analytics.topics import repository as topics
from crm_shared.db import upsert

# Keys per IN list: far below SQLite's limit of bind parameters.
_IN_CHUNK = 5000


def _latest(lines: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One line per key, the last one: a batch may carry a row twice if it changed while
    the feed was being read, and one upsert statement must not touch a row twice."""
    return list({line[key]: line for line in lines}.values())


async def apply_order_lines(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
    rows = [
        {
            "line_id": uuid.UUID(line["line_id"]),
            "order_id": uuid.UUID(line["order_id"]),
            "customer_id": uuid.UUID(line["customer_id"]),
            "product_id": uuid.UUID(line["product_id"]) if line.get("product_id") else None,
            "placed_at": dt.datetime.fromisoformat(line["placed_at"]),
            "order_status": line["order_status"],
            "quantity": int(line["quantity"]),
            "refunded_quantity": int(line["refunded_quantity"]),
            "line_total": Decimal(line["line_total"]),
            "refunded_amount": Decimal(line["refunded_amount"]),
            "currency": line["currency"],
            "changed_at": dt.datetime.fromisoformat(line["changed_at"]),
            "position": int(line["position"]),
        }
        for line in _latest(lines, "line_id")
    ]
    await upsert(db, order_lines, rows, key=["line_id"])


_NO_ATTRIBUTES: dict[str, Any] = {
    "email": None,
    "first_name": None,
    "last_name": None,
    "phone": None,
    "city": None,
    "country": None,
    "locale": None,
    "lifecycle_stage": None,
    "referred_by": None,
    "consent_email": False,
    "consent_sms": False,
    "created_at": None,
}


def _customer_row(line: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The copy's row of one feed line and the customer's tags.

    Only a live customer keeps personal attributes: deleted, merged and erased ones keep
    their id and status, which is all scoring needs to attribute or drop their orders.
    """
    kind = line["change"]
    status = {"upsert": LIVE, "deleted": "deleted", "merged": "merged", "erased": "erased"}[kind]
    row: dict[str, Any] = {
        "id": uuid.UUID(line["id"]),
        "status": status,
        "merged_into": uuid.UUID(line["merged_into"]) if line.get("merged_into") else None,
        "changed_at": dt.datetime.fromisoformat(line["changed_at"]),
        "position": int(line["position"]),
        **_NO_ATTRIBUTES,
    }
    customer = line.get("customer")
    if status != LIVE or customer is None:
        return row, []
    address = customer.get("address") or {}
    consents = {consent["channel"]: consent["granted"] for consent in customer.get("consents", [])}
    row.update(
        email=customer.get("email"),
        first_name=customer.get("first_name"),
        last_name=customer.get("last_name"),
        phone=customer.get("phone"),
        city=address.get("city"),
        country=address.get("country"),
        locale=customer.get("locale"),
        lifecycle_stage=customer.get("lifecycle_stage"),
        referred_by=uuid.UUID(customer["referred_by"]) if customer.get("referred_by") else None,
        consent_email=bool(consents.get("email", False)),
        consent_sms=bool(consents.get("sms", False)),
        created_at=dt.datetime.fromisoformat(customer["created_at"]),
    )
    return row, list(dict.fromkeys(customer.get("tags", [])))


async def apply_customers(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
    rows: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    erased: list[uuid.UUID] = []
    for line in _latest(lines, "id"):
        row, customer_tag_names = _customer_row(line)
        rows.append(row)
        tags.extend({"customer_id": row["id"], "tag": tag} for tag in customer_tag_names)
        if row["status"] == "erased":
            erased.append(row["id"])
    ids = [row["id"] for row in rows]
    await upsert(db, customers, rows, key=["id"])
    for chunk in _chunks(ids):
        await db.execute(delete(customer_tags).where(customer_tags.c.customer_id.in_(chunk)))
    if tags:
        await db.execute(insert(customer_tags), tags)
    await topics.forget_customers(db, erased)
    await forget_scores(db, erased)


async def forget_scores(db: AsyncConnection, customer_ids: Sequence[uuid.UUID]) -> None:
    """An erased customer leaves no trace: their scores and memberships of every run go."""
    for chunk in _chunks(customer_ids):
        await db.execute(delete(segment_members).where(segment_members.c.customer_id.in_(chunk)))
        await db.execute(delete(customer_scores).where(customer_scores.c.customer_id.in_(chunk)))
        await db.execute(
            delete(customer_referrals).where(customer_referrals.c.customer_id.in_(chunk))
        )


def _chunks(values: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


async def scorable_lines(db: AsyncConnection, until: dt.datetime) -> Rows:
    """Lines of orders placed before `until` that were neither cancelled nor refunded in
    full, with their net amount and quantity. Ids come as text and amounts as floats:
    scoring needs neither UUID nor Decimal objects, and a million of them cost seconds."""
    statement = select(
        cast(order_lines.c.customer_id, String).label("customer_id"),
        cast(order_lines.c.order_id, String).label("order_id"),
        order_lines.c.placed_at,
        cast(order_lines.c.line_total - order_lines.c.refunded_amount, Float).label("amount"),
        (order_lines.c.quantity - order_lines.c.refunded_quantity).label("quantity"),
    ).where(
        order_lines.c.order_status.not_in(("cancelled", "refunded")),
        order_lines.c.quantity > order_lines.c.refunded_quantity,
        order_lines.c.placed_at < until,
    )
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def customer_statuses(db: AsyncConnection) -> Rows:
    """Every customer that is not live, with the survivor of a merge; ids as text, in the
    form `scorable_lines` gives them."""
    statement = select(
        cast(customers.c.id, String).label("id"),
        customers.c.status,
        cast(customers.c.merged_into, String).label("merged_into"),
    ).where(customers.c.status != LIVE)
    rows: Rows = (await db.execute(statement)).all()
    return rows


async def set_lifecycle_stage(db: AsyncConnection, customer_id: uuid.UUID, stage: str) -> None:
    await db.execute(
        update(customers).where(customers.c.id == customer_id).values(lifecycle_stage=stage)
    )
