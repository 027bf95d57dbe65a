"""The logic of the catalogue: products, their prices and what every change records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_orders.catalogue import repository
from crm_orders.catalogue.errors import ProductExists, ProductNotFound
from crm_orders.catalogue.models import Product
from crm_orders.catalogue.repository import Db, ProductFilters
from crm_shared.db import utcnow
from crm_shared.pagination import next_cursor, uuid_after
from crm_shared.schemas.catalogue import ProductCreate, ProductRead, ProductUpdate
from crm_shared.schemas.common import Page
from crm_shared.types import quantize_money


def product_read(row: Any) -> ProductRead:
    """A product on the wire, from its ORM object or a plain row of the products table."""
    return ProductRead(
        id=row.id,
        sku=row.sku,
        name=row.name,
        description=row.description,
        category_path=row.category_path,
        brand=row.brand,
        price=quantize_money(row.price, row.currency),
        currency=row.currency,
        active=row.active,
        in_stock=row.in_stock,
        attributes=row.attributes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def stamp(db: Db, product: Product) -> None:
    """Mark a change: the product moves to the head of the products feed."""
    product.change_position = await repository.next_position(db)
    product.updated_at = utcnow()


async def create_product(session: AsyncSession, payload: ProductCreate) -> ProductRead:
    if await repository.sku_taken(session, payload.sku):
        raise ProductExists(f"A product with sku {payload.sku!r} exists.", sku=payload.sku)
    now = utcnow()
    product = Product(
        **payload.model_dump(),
        change_position=await repository.next_position(session),
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, product)
    return product_read(product)


async def read_product(db: Db, product_id: uuid.UUID) -> ProductRead:
    row = await repository.get_row(db, product_id)
    if row is None:
        raise ProductNotFound(f"No product {product_id}.")
    return product_read(row)


async def read_product_by_sku(db: Db, sku: str) -> ProductRead:
    row = await repository.get_row_by_sku(db, sku)
    if row is None:
        raise ProductNotFound(f"No product with sku {sku!r}.", sku=sku)
    return product_read(row)


async def _load_for_update(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await repository.get_for_update(session, product_id)
    if product is None:
        raise ProductNotFound(f"No product {product_id}.")
    return product


async def update_product(
    session: AsyncSession, product_id: uuid.UUID, payload: ProductUpdate
) -> ProductRead:
    product = await _load_for_update(session, product_id)
    changes = payload.model_dump(exclude_unset=True)
    if "price" in changes:
        changes["price"] = quantize_money(
            changes["price"], changes.get("currency", product.currency)
        )
    if (
        "sku" in changes
        and changes["sku"] != product.sku
        and await repository.sku_taken(session, changes["sku"], excluding=product.id)
    ):
        raise ProductExists(f"Another product has sku {changes['sku']!r}.", sku=changes["sku"])
    changed = [name for name, value in changes.items() if getattr(product, name) != value]
    if changed:
        for name in changed:
            setattr(product, name, changes[name])
        await stamp(session, product)
        await session.flush()
    return product_read(product)


async def retire_product(session: AsyncSession, product_id: uuid.UUID) -> None:
    """Products are never removed, since orders and interactions keep pointing at them:
    deleting one deactivates it, so it can no longer be ordered."""
    product = await _load_for_update(session, product_id)
    if product.active:
        product.active = False
        await stamp(session, product)
        await session.flush()


async def list_products(
    db: AsyncConnection, filters: ProductFilters, *, limit: int, cursor: str | None
) -> Page[ProductRead]:
    rows = await repository.list_rows(db, filters, after=uuid_after(cursor), limit=limit)
    return Page(
        items=[product_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.id)]),
    )
