"""The insights migration on a database made before it: new columns, the copies' cursors
sent back to the start (other feeds untouched), and the way back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import crm_analytics
from crm_shared.db import create_engine
from crm_shared.migrations import alembic_config
from crm_shared.testing import fresh_postgres_database, sqlite_url

MIGRATIONS = Path(crm_analytics.__file__).parent / "migrations"
BEFORE = "b5c1d2e3f4a5"
INSIGHTS = "c6d2e3f4a5b6"


@pytest.fixture
def scratch_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, for this test alone."""
    if database_url.startswith("sqlite"):
        yield sqlite_url(tmp_path, "scratch")
        return
    with fresh_postgres_database(
        request.getfixturevalue("postgres_admin_url"), "crm_analytics_migration"
    ) as url:
        yield url


async def _migrate(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(MIGRATIONS)

    def move(connection: Connection) -> None:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(move)


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}


async def test_the_upgrade_adds_the_columns_and_rewinds_the_copies(scratch_url: str) -> None:
    engine = create_engine(scratch_url)
    try:
        await _migrate(engine, BEFORE)
        now = dt.datetime.now(dt.UTC)
        async with engine.begin() as connection:
            for feed, position in (("order_lines", 42), ("customers", 7), ("interactions", 5)):
                await connection.execute(
                    text(
                        "INSERT INTO sync_cursors (feed, position, synced_at) "
                        "VALUES (:feed, :position, :at)"
                    ),
                    {"feed": feed, "position": position, "at": now},
                )
        await _migrate(engine, INSIGHTS)
        async with engine.connect() as connection:
            positions = dict(
                (await connection.execute(text("SELECT feed, position FROM sync_cursors"))).all()
            )
            order_columns = await connection.run_sync(_columns, "order_lines")
            customer_columns = await connection.run_sync(_columns, "customers")
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert positions == {"order_lines": 0, "customers": 0, "interactions": 5}
        assert "product_id" in order_columns
        assert "referred_by" in customer_columns
        assert {"basket_rules", "customer_referrals"} <= set(tables)

        await _migrate(engine, BEFORE, down=True)
        async with engine.connect() as connection:
            order_columns = await connection.run_sync(_columns, "order_lines")
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "product_id" not in order_columns
        assert "basket_rules" not in tables
    finally:
        await engine.dispose()
