"""All SQL of the copies: applying feed batches, forgetting customers, reading them back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_recommend.sync.models import (
    CANCELLED_STATUSES,
    forgotten_customers,
    interactions,
    order_lines,
    products,
)
from crm_shared.db import upsert

# Keys per IN list: far below SQLite's limit of bind parameters.
_IN_CHUNK = 5000
# A merged customer may itself have been merged since: follow the chain this far.
_MERGE_HOPS = 5


def _latest(lines: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One line per key, the last: one upsert statement must not touch a row twice."""
    return list({line[key]: line for line in lines}.values())


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


async def apply_products(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
    rows = [
        {
            "id": uuid.UUID(line["id"]),
            "sku": line["sku"],
            "name": line["name"],
            "description": line.get("description"),
            "category_path": line.get("category_path"),
            "brand": line.get("brand"),
            "active": bool(line["active"]),
            "in_stock": bool(line["in_stock"]),
            "changed_at": dt.datetime.fromisoformat(line["changed_at"]),
            "position": int(line["position"]),
        }
        for line in _latest(lines, "id")
    ]
    if rows:
        await upsert(db, products, rows, key=["id"])


async def owners(
    db: AsyncConnection, customer_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Where the rows of forgotten customers go: the merge survivor, or None (dropped).
    Customers not forgotten are not in the answer."""
    found = await _forgotten(db, set(customer_ids))
    for _ in range(_MERGE_HOPS):
        further = await _forgotten(db, {target for target in found.values() if target})
        if not further:
            break
        found = {
            customer: further.get(target, target) if target else None
            for customer, target in found.items()
        }
    return found


async def _forgotten(
    db: AsyncConnection, customer_ids: set[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    statement = select(forgotten_customers.c.customer_id, forgotten_customers.c.merged_into)
    found: dict[uuid.UUID, uuid.UUID | None] = {}
    for chunk in _chunks(sorted(customer_ids)):
        result = await db.execute(statement.where(forgotten_customers.c.customer_id.in_(chunk)))
        found.update({row.customer_id: row.merged_into for row in result})
    return found


async def _attributed(db: AsyncConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of forgotten customers dropped, those of merged ones moved to the survivor."""
    moved = await owners(db, (row["customer_id"] for row in rows))
    if not moved:
        return rows
    kept = []
    for row in rows:
        if row["customer_id"] in moved:
            survivor = moved[row["customer_id"]]
            if survivor is None:
                continue
            row["customer_id"] = survivor
        kept.append(row)
    return kept


async def apply_interactions(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
    rows = [
        {
            "id": uuid.UUID(line["id"]),
            "customer_id": uuid.UUID(line["customer_id"]),
            "product_id": uuid.UUID(line["product_id"]),
            "kind": line["kind"],
            "rating": line.get("rating"),
            "occurred_at": dt.datetime.fromisoformat(line["occurred_at"]),
        }
        for line in _latest(lines, "id")
        if line.get("customer_id")
    ]
    rows = await _attributed(db, rows)
    if rows:
        await upsert(db, interactions, rows, key=["id"])


async def apply_order_lines(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
    rows = [
        {
            "line_id": uuid.UUID(line["line_id"]),
            "customer_id": uuid.UUID(line["customer_id"]),
            "product_id": uuid.UUID(line["product_id"]),
            "quantity": int(line["quantity"]),
            "refunded_quantity": int(line["refunded_quantity"]),
            "order_status": line["order_status"],
            "placed_at": dt.datetime.fromisoformat(line["placed_at"]),
            "position": int(line["position"]),
        }
        for line in _latest(lines, "line_id")
    ]
    rows = await _attributed(db, rows)
    if rows:
        await upsert(db, order_lines, rows, key=["line_id"])


async def forget(
    db: AsyncConnection,
    customer_id: uuid.UUID,
    change: str,
    merged_into: uuid.UUID | None,
    changed_at: dt.datetime,
) -> None:
    """Drop a customer's rows, or move them to the survivor of a merge."""
    row = {
        "customer_id": customer_id,
        "change": change,
        "merged_into": merged_into if change == "merged" else None,
        "changed_at": changed_at,
    }
    await upsert(db, forgotten_customers, [row], key=["customer_id"])
    survivor = row["merged_into"]
    for table in (interactions, order_lines):
        if survivor is None:
            await db.execute(delete(table).where(table.c.customer_id == customer_id))
        else:
            await db.execute(
                update(table).where(table.c.customer_id == customer_id).values(customer_id=survivor)
            )


async def restore(db: AsyncConnection, customer_id: uuid.UUID) -> None:
    """A deleted customer is back: new lines for them count again."""
    await db.execute(
        delete(forgotten_customers).where(
            forgotten_customers.c.customer_id == customer_id,
            forgotten_customers.c.change == "deleted",
        )
    )


async def forgotten_ids(db: AsyncConnection) -> set[str]:
    result = await db.execute(select(forgotten_customers.c.customer_id))
    return {str(customer_id) for customer_id in result.scalars()}


async def catalogue_rows(db: AsyncConnection) -> Sequence[Any]:
    statement = select(
        products.c.id,
        products.c.sku,
        products.c.name,
        products.c.description,
        products.c.category_path,
        products.c.brand,
        products.c.active,
        products.c.in_stock,
    ).order_by(products.c.id)
    return (await db.execute(statement)).all()


async def product_counts(db: AsyncConnection) -> dict[tuple[uuid.UUID, str], int]:
    """Events per (product, kind) of interactions, purchases as kind `purchase`."""
    counts: dict[tuple[uuid.UUID, str], int] = {}
    result = await db.execute(
        select(interactions.c.product_id, interactions.c.kind, func.count()).group_by(
            interactions.c.product_id, interactions.c.kind
        )
    )
    for product_id, kind, count in result:
        counts[(product_id, kind)] = int(count)
    result = await db.execute(
        select(order_lines.c.product_id, func.count())
        .where(order_lines.c.order_status.not_in(CANCELLED_STATUSES))
        .group_by(order_lines.c.product_id)
    )
    for product_id, count in result:
        counts[(product_id, "purchase")] = int(count)
    return counts


async def purchases_after(db: AsyncConnection, position: int) -> Sequence[Any]:
    """(customer, product) bought in order lines that changed after a feed position."""
    statement = select(order_lines.c.customer_id, order_lines.c.product_id).where(
        order_lines.c.position > position,
        order_lines.c.order_status.not_in(CANCELLED_STATUSES),
        order_lines.c.quantity > order_lines.c.refunded_quantity,
    )
    return (await db.execute(statement)).all()


async def interaction_rows(db: AsyncConnection) -> Sequence[Any]:
    statement = select(
        interactions.c.customer_id,
        interactions.c.product_id,
        interactions.c.kind,
        interactions.c.rating,
        interactions.c.occurred_at,
    )
    return (await db.execute(statement)).all()


async def purchase_rows(db: AsyncConnection) -> Sequence[Any]:
    statement = select(
        order_lines.c.customer_id, order_lines.c.product_id, order_lines.c.placed_at
    ).where(
        order_lines.c.order_status.not_in(CANCELLED_STATUSES),
        order_lines.c.quantity > order_lines.c.refunded_quantity,
    )
    return (await db.execute(statement)).all()


async def last_order_line_position(db: AsyncConnection) -> int:
    position = await db.scalar(select(func.max(order_lines.c.position)))
    return int(position or 0)
