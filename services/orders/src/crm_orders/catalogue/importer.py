"""The product import: NDJSON rows upserted by sku, batch by batch, set-based.

Rows apply in file order, as if sent one by one: a later row about the same sku wins.
A row sets the fields it carries; fields it omits keep their stored value (or the
default, for a new product), so re-running a file never undoes a later edit made
elsewhere and changes nothing. Each batch costs one lookup, one block of feed
positions, one COPY (PostgreSQL) of the new products and one executemany of the changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_orders.catalogue import repository
from crm_orders.catalogue.errors import ImportRejected
from crm_shared.bulk import (
    RowErrors,
    field_errors,
    gc_paused,
    ndjson_batches,
    write_while_reading,
)
from crm_shared.db import utcnow
from crm_shared.ids import uuid7_block
from crm_shared.schemas.catalogue import ImportErrorPolicy, ImportReport, ProductCreate

# The columns an import row may set, besides the sku that names the product.
IMPORTED = (
    "name",
    "description",
    "category_path",
    "brand",
    "price",
    "currency",
    "active",
    "in_stock",
    "attributes",
)
_DEFAULTS: dict[str, Any] = {
    "description": None,
    "category_path": None,
    "brand": None,
    "active": True,
    "in_stock": True,
    "attributes": {},
}


@dataclass(frozen=True)
class ImportJob:
    policy: ImportErrorPolicy
    batch_size: int
    max_rows: int


@dataclass
class _Tally:
    received: int = 0
    errors: RowErrors = field(default_factory=RowErrors)
    inserted: set[uuid.UUID] = field(default_factory=set)
    updated: set[uuid.UUID] = field(default_factory=set)

    def report(self, committed: bool) -> ImportReport:
        return ImportReport(
            received=self.received,
            inserted=len(self.inserted),
            updated=len(self.updated),
            rejected=self.errors.rejected,
            committed=committed,
            errors=self.errors.in_row_order(),
            errors_truncated=self.errors.truncated,
        )


@dataclass(slots=True)
class _Row:
    row: int
    sku: str
    values: dict[str, Any]  # the fields the row carries


@dataclass(slots=True, eq=False)
class _Product:
    id: uuid.UUID
    sku: str
    values: dict[str, Any]  # every column of IMPORTED, as the rows so far left them
    stored: dict[str, Any] | None  # as the database holds them; None when new


async def import_products(
    session: AsyncSession, chunks: AsyncIterator[bytes], job: ImportJob
) -> ImportReport:
    """Import every row of the body; with `abort`, one invalid row refuses them all."""
    tally = _Tally()

    async def write(rows: list[_Row]) -> None:
        await _write_batch(session, rows, tally)

    await write_while_reading(_parsed_batches(chunks, job, tally), write)
    committed = job.policy is ImportErrorPolicy.skip or tally.errors.rejected == 0
    report = tally.report(committed)
    if not committed:
        raise ImportRejected(report)
    return report


async def _parsed_batches(
    chunks: AsyncIterator[bytes], job: ImportJob, tally: _Tally
) -> AsyncGenerator[list[_Row]]:
    async for lines in ndjson_batches(chunks, batch_size=job.batch_size, max_rows=job.max_rows):
        rows: list[_Row] = []
        with gc_paused(freeze=True):
            for number, line in lines:
                try:
                    product = ProductCreate.model_validate_json(line)
                except ValidationError as exc:
                    tally.errors.reject(number, field_errors(exc))
                    continue
                values = {name: getattr(product, name) for name in product.model_fields_set}
                rows.append(_Row(number, values.pop("sku"), values))
        tally.received = lines[-1][0]
        yield rows


async def _write_batch(session: AsyncSession, rows: list[_Row], tally: _Tally) -> None:
    skus = list(dict.fromkeys(row.sku for row in rows))
    by_sku: dict[str, _Product] = {}
    for stored_row in await repository.rows_by_sku(session, skus, "id", "sku", *IMPORTED):
        stored = {name: getattr(stored_row, name) for name in IMPORTED}
        by_sku[stored_row.sku] = _Product(stored_row.id, stored_row.sku, dict(stored), stored)
    ids = iter(uuid7_block(len(skus) - len(by_sku)))
    for row in rows:
        product = by_sku.get(row.sku)
        if product is None:
            product = by_sku[row.sku] = _Product(next(ids), row.sku, dict(_DEFAULTS), None)
        product.values.update(row.values)
    new = [product for product in by_sku.values() if product.stored is None]
    changed = [
        product
        for product in by_sku.values()
        if product.stored is not None
        and any(product.values[name] != product.stored[name] for name in IMPORTED)
    ]
    if not new and not changed:
        return
    position = await repository.next_position(session, len(new) + len(changed))
    now = utcnow()
    updates = []
    for product in changed:
        updates.append(
            {
                "product_id": product.id,
                **product.values,
                "change_position": position,
                "updated_at": now,
            }
        )
        position += 1
        if product.id not in tally.inserted:
            tally.updated.add(product.id)
    inserts = []
    for product in new:
        inserts.append(
            {
                "id": product.id,
                "sku": product.sku,
                **product.values,
                "change_position": position,
                "created_at": now,
                "updated_at": now,
            }
        )
        position += 1
        tally.inserted.add(product.id)
    await repository.update_products(session, updates)
    await repository.insert_products(session, inserts)
