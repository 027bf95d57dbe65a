"""The order import: NDJSON orders, checked and priced batch by batch, written set-based.

Two steps run side by side: while one batch is written, the next is parsed, its
customers are checked with the customer service (each distinct customer once per
import), its duplicates found and its orders priced. Preparing a batch costs one lookup
of stored external_refs and at most two of products not seen before; writing it one
block of feed positions and one COPY (PostgreSQL) per table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_orders.customers import CustomerDirectory
from crm_orders.orders import repository
from crm_orders.orders.errors import ImportRejected
from crm_orders.orders.pricing import PricedOrder, price_order
from crm_orders.orders.service import SaleProducts
from crm_shared.bulk import (
    RowErrors,
    field_errors,
    gc_paused,
    ndjson_batches,
    write_while_reading,
)
from crm_shared.db import Database, utcnow
from crm_shared.ids import uuid7_block
from crm_shared.schemas.common import FieldError
from crm_shared.schemas.customers import ImportErrorPolicy
from crm_shared.schemas.orders import OrderImport, OrderImportReport, OrderStatus

REFUND_REASON = "imported as refunded"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class ImportJob:
    policy: ImportErrorPolicy
    batch_size: int
    max_rows: int


@dataclass
class _Tally:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    errors: RowErrors = field(default_factory=RowErrors)
    # The external_refs this import stored: a later row with one of them is a duplicate.
    imported_refs: set[str] = field(default_factory=set)
    products: SaleProducts = field(default_factory=SaleProducts)
    known_customers: set[uuid.UUID] = field(default_factory=set)

    def report(self, committed: bool) -> OrderImportReport:
        return OrderImportReport(
            received=self.received,
            inserted=self.inserted,
            duplicates=self.duplicates,
            rejected=self.errors.rejected,
            committed=committed,
            errors=self.errors.in_row_order(),
            errors_truncated=self.errors.truncated,
        )


@dataclass(slots=True)
class _Row:
    row: int
    order: OrderImport


async def import_orders(
    session: AsyncSession,
    database: Database,
    customers: CustomerDirectory,
    chunks: AsyncIterator[bytes],
    job: ImportJob,
) -> OrderImportReport:
    """Import every row of the body; with `abort`, one invalid row refuses them all."""
    tally = _Tally()

    async def write(records: _Records) -> None:
        await _write(session, records, tally)

    await write_while_reading(_prepared_batches(chunks, job, database, customers, tally), write)
    committed = job.policy is ImportErrorPolicy.skip or tally.errors.rejected == 0
    report = tally.report(committed)
    if not committed:
        raise ImportRejected(report)
    return report


async def _prepared_batches(
    chunks: AsyncIterator[bytes],
    job: ImportJob,
    database: Database,
    customers: CustomerDirectory,
    tally: _Tally,
) -> AsyncGenerator[_Records]:
    """The rows of each batch ready to write: parsed, checked, deduplicated and priced.

    This runs while the previous batch is written, so it reads on a connection of its
    own, which sees committed data only: products, and orders stored by other requests.
    The orders this import stored already are in `tally.imported_refs`.
    """
    async for lines in ndjson_batches(chunks, batch_size=job.batch_size, max_rows=job.max_rows):
        rows: list[_Row] = []
        with gc_paused(freeze=True):
            for number, line in lines:
                try:
                    rows.append(_Row(number, OrderImport.model_validate_json(line)))
                except ValidationError as exc:
                    tally.errors.reject(number, field_errors(exc))
        tally.received = lines[-1][0]
        # Each customer is checked once per import, however long it runs.
        asked = {row.order.customer_id for row in rows} - tally.known_customers
        missing = await customers.missing(asked)
        tally.known_customers.update(asked - missing)
        if missing:
            for row in rows:
                if row.order.customer_id in missing:
                    tally.errors.reject(row.row, [_unknown_customer(row.order.customer_id)])
            rows = [row for row in rows if row.order.customer_id not in missing]
        refs = [row.order.external_ref for row in rows if row.order.external_ref is not None]
        async with database.engine.connect() as connection:
            stored_refs = await repository.stored_external_refs(connection, refs)
            await tally.products.load(connection, [row.order for row in rows])
        with gc_paused(freeze=True):
            records = _records(_accepted(rows, stored_refs, tally))
        yield records


def _unknown_customer(customer_id: uuid.UUID) -> FieldError:
    return FieldError(
        field="customer_id",
        message=f"no customer {customer_id} in the customer service",
        code="customer_not_found",
    )


def _accepted(
    rows: list[_Row], stored_refs: set[str], tally: _Tally
) -> list[tuple[OrderImport, PricedOrder]]:
    """The rows to store, priced; duplicates counted and invalid rows rejected on the way."""
    products = tally.products
    accepted: list[tuple[OrderImport, PricedOrder]] = []
    for row in rows:
        ref = row.order.external_ref
        if ref is not None and (ref in stored_refs or ref in tally.imported_refs):
            tally.duplicates += 1
            continue
        priced = price_order(row.order, products.by_id, products.by_sku, inactive_allowed=True)
        if isinstance(priced, list):
            tally.errors.reject(row.row, priced)
            continue
        if ref is not None:
            tally.imported_refs.add(ref)
        accepted.append((row.order, priced))
    return accepted


def _records(accepted: list[tuple[OrderImport, PricedOrder]]) -> _Records:
    line_count = sum(len(priced.lines) for _, priced in accepted)
    refunded = sum(order.status is OrderStatus.refunded for order, _ in accepted)
    records = _Records(iter(uuid7_block(2 * len(accepted) + line_count + refunded)), utcnow())
    for order, priced in accepted:
        records.add(order, priced)
    return records


async def _write(session: AsyncSession, records: _Records, tally: _Tally) -> None:
    if not records.orders:
        return
    # Feed positions are taken only now, inside the transaction, in the order of writing.
    position = await repository.next_line_positions(session, len(records.lines))
    for offset, line in enumerate(records.lines):
        line[-1] = position + offset
    await repository.insert_orders(session, records.orders)
    await repository.insert_lines(session, records.lines)
    await repository.insert_status_changes(session, records.status_changes)
    await repository.insert_refunds(session, records.refunds, records.refund_lines)
    tally.inserted += len(records.orders)


@dataclass
class _Records:
    """The rows of a batch, table by table, as values in the order of the repository's
    columns (`repository.ORDER_COLUMNS`, ...): the COPY takes them as they are."""

    ids: Iterator[uuid.UUID]
    now: dt.datetime
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[list[Any]] = field(default_factory=list)
    status_changes: list[tuple[Any, ...]] = field(default_factory=list)
    refunds: list[tuple[Any, ...]] = field(default_factory=list)
    refund_lines: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, order: OrderImport, priced: PricedOrder) -> None:
        """Add one order; its lines' feed positions (last value) are filled in when they
        are written."""
        now = self.now
        order_id = next(self.ids)
        placed_at = order.placed_at or now
        status = order.status.value
        refunded = order.status is OrderStatus.refunded
        total = priced.total
        self.orders.append(
            (
                order_id,
                order.customer_id,
                order.external_ref,
                status,
                order.channel.value,
                order.currency,
                priced.subtotal,
                priced.discount_total,
                total,
                total if refunded else _ZERO,
                placed_at,
                now,
                now,
            )
        )
        # Imported history is dated when the order was placed: nothing better is known.
        self.status_changes.append((next(self.ids), order_id, None, status, placed_at))
        refund_id = next(self.ids) if refunded else None
        if refund_id is not None:
            self.refunds.append((refund_id, order_id, total, REFUND_REASON, placed_at))
        for line in priced.lines:
            line_id = next(self.ids)
            self.lines.append(
                [
                    line_id,
                    order_id,
                    line.line_number,
                    line.product_id,
                    line.sku,
                    line.quantity,
                    line.unit_price,
                    line.discount,
                    line.line_total,
                    line.quantity if refunded else 0,
                    line.line_total if refunded else _ZERO,
                    None,
                ]
            )
            if refund_id is not None:
                self.refund_lines.append((refund_id, line_id, line.quantity, line.line_total))
