"""Alembic per service: applied before the service serves, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import zlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.db import create_engine
from crm_shared.settings import ServiceSettings


def alembic_config(script_location: Path, database_url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade_to_head(engine: AsyncEngine, script_location: Path, service: str) -> None:
    """Apply every pending migration; replicas starting together take turns on PostgreSQL."""
    config = alembic_config(script_location)
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            lock_key = zlib.crc32(f"crm-migrations:{service}".encode())
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        await connection.run_sync(_upgrade, config)


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`.

    Used by `upgrade_to_head` (a connection is handed over) and by the `alembic` command
    line (which connects to `sqlalchemy.url`, e.g. to autogenerate a revision).
    """
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "render_as_batch": True,  # SQLite alters tables by copying them
        "compare_type": True,
    }
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, options)
        return
    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(context.config.get_main_option("sqlalchemy.url") or "", options))


def _run_on(connection: Connection, options: dict[str, Any]) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(database_url: str, options: dict[str, Any]) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_run_on, options)
    await engine.dispose()


def command_line(settings: ServiceSettings, script_location: Path, argv: list[str]) -> None:
    """`python -m <service>.migrations upgrade|current|revision -m MESSAGE`.

    `upgrade` applies pending migrations to the configured database (what a deployment's
    migration job runs); `revision` autogenerates a new migration against a scratch
    SQLite database brought to head first.
    """
    parser = argparse.ArgumentParser(prog=f"python -m crm_{settings.service_name}.migrations")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade", help="apply pending migrations to the configured database")
    commands.add_parser("current", help="show the revision of the configured database")
    revision = commands.add_parser("revision", help="autogenerate a migration from the models")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.command == "revision":
        with tempfile.TemporaryDirectory() as scratch:
            config = alembic_config(script_location, f"sqlite:///{scratch}/autogen.db")
            command.upgrade(config, "head")
            command.revision(config, message=args.message, autogenerate=True)
        return
    if args.command == "upgrade":
        # The same path as a starting replica, lock included: a migration job and replicas
        # rolling out at the same time take turns.
        asyncio.run(_upgrade_alone(settings, script_location))
        return
    config = alembic_config(script_location, settings.resolved_database_url())
    command.current(config, verbose=True)


async def _upgrade_alone(settings: ServiceSettings, script_location: Path) -> None:
    engine = create_engine(settings.resolved_database_url())
    try:
        await upgrade_to_head(engine, script_location, settings.service_name)
    finally:
        await engine.dispose()
