"""All SQL of the catalogue domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, String, Uuid, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.catalogue.models import Product
from crm_orders.database import PRODUCT_FEED, feed_counter
from crm_shared.bulk import insert_many
from crm_shared.db import dialect_of
from crm_shared.feed import take_positions

products = Product.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection

# Keys per IN list on SQLite: far below its limit of bind parameters (32766).
_IN_CHUNK = 5000


@dataclass(frozen=True)
class ProductFilters:
    category: str | None = None
    brand: str | None = None
    active: bool | None = None
    in_stock: bool | None = None
    name_contains: str | None = None


async def next_position(db: Db, count: int = 1) -> int:
    return await take_positions(db, feed_counter, PRODUCT_FEED, count)


async def get_row(db: Db, product_id: uuid.UUID) -> Row[Any] | None:
    return (await db.execute(select(products).where(products.c.id == product_id))).first()


async def get_row_by_sku(db: Db, sku: str) -> Row[Any] | None:
    return (await db.execute(select(products).where(products.c.sku == sku))).first()


async def get_for_update(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    statement = select(Product).where(products.c.id == product_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def sku_taken(db: Db, sku: str, *, excluding: uuid.UUID | None = None) -> bool:
    statement = select(products.c.id).where(products.c.sku == sku)
    if excluding is not None:
        statement = statement.where(products.c.id != excluding)
    return (await db.execute(statement.limit(1))).first() is not None


async def add(session: AsyncSession, product: Product) -> None:
    session.add(product)
    await session.flush()


async def list_rows(
    db: Db, filters: ProductFilters, *, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """One page of products in id (creation) order; fetches `limit + 1` rows."""
    statement = select(products)
    if filters.category is not None:
        subtree = _escaped(filters.category) + "/%"
        statement = statement.where(
            or_(
                products.c.category_path == filters.category,
                products.c.category_path.like(subtree, escape="\\"),
            )
        )
    if filters.brand is not None:
        statement = statement.where(products.c.brand == filters.brand)
    if filters.active is not None:
        statement = statement.where(products.c.active.is_(filters.active))
    if filters.in_stock is not None:
        statement = statement.where(products.c.in_stock.is_(filters.in_stock))
    if filters.name_contains is not None:
        pattern = f"%{_escaped(filters.name_contains.lower())}%"
        statement = statement.where(func.lower(products.c.name).like(pattern, escape="\\"))
    if after is not None:
        statement = statement.where(products.c.id > after)
    statement = statement.order_by(products.c.id).limit(limit + 1)
    return (await db.execute(statement)).all()


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def rows_by_sku(db: Db, skus: Sequence[str], *columns: str) -> list[Row[Any]]:
    """The products with these skus (only `columns` of them, if named): one statement on
    PostgreSQL."""
    return await _rows_where(db, "sku", list(skus), String, columns)


async def rows_by_id(db: Db, product_ids: Sequence[uuid.UUID], *columns: str) -> list[Row[Any]]:
    return await _rows_where(db, "id", list(product_ids), Uuid, columns)


async def _rows_where(
    db: Db, column: str, keys: list[Any], key_type: Any, columns: Sequence[str]
) -> list[Row[Any]]:
    if not keys:
        return []
    chosen = select(*(products.c[name] for name in columns)) if columns else select(products)
    if dialect_of(db) == "postgresql":
        # One array parameter keeps the statement (and its plan) the same for every batch.
        probe = products.c[column] == any_(bindparam("keys", keys, ARRAY(key_type)))
        return list((await db.execute(chosen.where(probe))).all())
    found: list[Row[Any]] = []
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        found.extend((await db.execute(chosen.where(products.c[column].in_(chunk)))).all())
    return found


async def insert_products(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    await insert_many(session, products, records)


async def update_products(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    """Each record names the product by `product_id` and carries the same columns."""
    if records:
        statement = update(products).where(products.c.id == bindparam("product_id"))
        await session.execute(statement, records)
