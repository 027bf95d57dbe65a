"""All SQL of the bulk import: one read and a few set-based writes per batch."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Row,
    Select,
    String,
    Table,
    any_,
    bindparam,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from crm_customer.customers.repository import customer_tags, customers, events
from crm_shared.db import dialect_of

# What an import may set, besides tags and consents.
IMPORTED_COLUMNS = (
    "external_ref",
    "email",
    "first_name",
    "last_name",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "locale",
    "lifecycle_stage",
)
# Keys per IN list on SQLite: far below its limit of bind parameters (32766).
_LOOKUP_CHUNK = 5000


async def live_customers(
    session: AsyncSession, external_refs: Sequence[str], emails: Sequence[str]
) -> list[Row[Any]]:
    """The live customers that have one of these external_refs or emails."""
    if dialect_of(session) == "postgresql":
        # An array per key column keeps one statement whatever the batch, and a union of
        # two `= ANY` probes lets each use its unique index (with an OR of the two, the
        # cached generic plan compares every live row with every key).
        probes = [
            _live().where(customers.c[column] == any_(bindparam(column, keys, ARRAY(String))))
            for column, keys in (("external_ref", list(external_refs)), ("email", list(emails)))
            if keys
        ]
        statements: list[Executable] = [union_all(*probes)] if probes else []
    else:
        statements = []
        for start in range(0, max(len(external_refs), len(emails)), _LOOKUP_CHUNK):
            refs = external_refs[start : start + _LOOKUP_CHUNK]
            addresses = emails[start : start + _LOOKUP_CHUNK]
            matches = []
            if refs:
                matches.append(customers.c.external_ref.in_(refs))
            if addresses:
                matches.append(customers.c.email.in_(addresses))
            statements.append(_live().where(or_(*matches)))
    found: dict[uuid.UUID, Row[Any]] = {}
    for statement in statements:
        for row in await session.execute(statement):
            found[row.id] = row
    return list(found.values())


def _live() -> Select[Any]:
    columns = [customers.c[name] for name in ("id", *IMPORTED_COLUMNS, "tags", "consents")]
    return select(*columns).where(customers.c.deleted_at.is_(None))


async def planner_rows(session: AsyncSession) -> float:
    """How many customers the PostgreSQL planner's statistics know of (0 on SQLite)."""
    if dialect_of(session) != "postgresql":
        return 0.0
    statement = text("SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass")
    return max(float((await session.execute(statement)).scalar_one()), 0.0)


async def refresh_planner_statistics(session: AsyncSession) -> None:
    """ANALYZE the customers table, the rows this transaction wrote included.

    Without it the planner takes a table filled by this very import for nearly empty
    and looks keys up by scanning it whole, batch after batch.
    """
    if dialect_of(session) == "postgresql":
        await session.execute(text("ANALYZE customers"))


async def insert_customers(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    await _insert_many(session, customers, records)


async def update_customers(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    """Each record names the customer by `customer_id` and carries the same columns."""
    if records:
        statement = update(customers).where(customers.c.id == bindparam("customer_id"))
        await session.execute(statement, records)


async def insert_tags(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    await _insert_many(session, customer_tags, records)


async def insert_events(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    await _insert_many(session, events, records)


async def _insert_many(session: AsyncSession, table: Table, records: list[dict[str, Any]]) -> None:
    """Insert rows that all carry the same columns: binary COPY on PostgreSQL."""
    if not records:
        return
    if dialect_of(session) != "postgresql":
        await session.execute(insert(table), records)
        return
    # JSON columns go last: the rest of a row is picked in one go.
    json_columns = [name for name in records[0] if isinstance(table.c[name].type, JSON)]
    columns = [name for name in records[0] if name not in json_columns]
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the session's connection was closed under the import")
    # The asyncpg connection runs inside the session's transaction, but without
    # SQLAlchemy's type processing: JSON goes as text, as the dialect's jsonb codec expects.
    await driver.copy_records_to_table(
        table.name,
        records=_tuples(records, columns, json_columns),
        columns=columns + json_columns,
    )


def _tuples(
    records: list[dict[str, Any]], columns: list[str], json_columns: list[str]
) -> list[tuple[Any, ...]]:
    values: Callable[[dict[str, Any]], tuple[Any, ...]] = (
        itemgetter(*columns) if len(columns) > 1 else lambda record: (record[columns[0]],)
    )
    if not json_columns:
        return [values(record) for record in records]
    return [
        (*values(record), *[orjson.dumps(record[name]).decode() for name in json_columns])
        for record in records
    ]


async def release_keys(session: AsyncSession, customer_ids: list[uuid.UUID]) -> None:
    """Clear email and external_ref of customers whose next write sets them anew."""
    for start in range(0, len(customer_ids), _LOOKUP_CHUNK):
        chosen = customer_ids[start : start + _LOOKUP_CHUNK]
        await session.execute(
            update(customers)
            .where(customers.c.id.in_(chosen))
            .values(email=None, external_ref=None)
        )
