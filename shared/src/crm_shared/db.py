"""Database plumbing every service shares: engines for SQLite and PostgreSQL, sessions, types."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
from sqlalchemy import DateTime, MetaData, Select, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_IMMEDIATE = "crm_sqlite_immediate"
# Execution option of writers' connections: the Database whose driver pool claims change
# feed positions (see `crm_shared.feed`) beside the writer's own transaction.
FEED_CLAIMS = "crm_feed_claims"


def new_registry() -> registry:
    """A registry with its own metadata and the constraint naming convention.

    Each service's tables hang off their own metadata, so migrations of one service never
    see another's tables even when both are imported in one process (tests do).
    """
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every dialect (SQLite stores none of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def async_url(database_url: str) -> URL:
    """Turn a plain `postgresql://` or `sqlite:///` URL into its async-driver form."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 5.0,
) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or a SQLite file (aiosqlite).

    No pre-ping on checkout: a restarted database invalidates the whole pool on the first
    failed statement, which answers 503 and lets the next request reconnect, without
    paying a round trip on every request.
    """
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
        connect_args={"timeout": pool_timeout, "command_timeout": 60},
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY without waiting when another writer won.
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def dialect_of(db: AsyncSession | AsyncConnection) -> str:
    if isinstance(db, AsyncConnection):
        return db.dialect.name
    return db.get_bind().dialect.name


async def upsert(
    db: AsyncSession | AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
) -> None:
    """Insert `rows`; a row whose `key` exists already replaces that row's other columns
    (the columns of the first row). One statement for the batch on either backend."""
    if not rows:
        return
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    statement = insert(table)
    replaced = {name: statement.excluded[name] for name in rows[0] if name not in key}
    if replaced:
        statement = statement.on_conflict_do_update(index_elements=list(key), set_=replaced)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    await db.execute(statement, list(rows))


class Database:
    """The engine of one service and the sessions and connections requests use."""

    def __init__(self, engine: AsyncEngine, *, fast_pool_size: int = 10) -> None:
        self.engine = engine
        self.fast_pool_size = fast_pool_size
        self.driver_pool: asyncpg.Pool | None = None
        self._writer = engine.execution_options(**{_IMMEDIATE: True, FEED_CLAIMS: self})
        # Reads on PostgreSQL skip BEGIN/ROLLBACK: one statement, one round trip.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits once when the request succeeds."""
        async with AsyncSession(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (`BEGIN IMMEDIATE` on SQLite), committed
        when the block ends without an exception: for batch writes without the ORM."""
        async with self._writer.begin() as connection:
            yield connection

    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A plain connection for reads on the hot path: no ORM unit of work to set up."""
        async with self._reader.connect() as connection:
            yield connection

    async def start(self) -> None:
        """Open the driver pool `FastQuery` uses on PostgreSQL."""
        if self.dialect == "postgresql":
            url = self.engine.url.set(drivername="postgresql")
            self.driver_pool = await asyncpg.create_pool(
                url.render_as_string(hide_password=False),
                min_size=1,
                max_size=self.fast_pool_size,
                timeout=5,
                command_timeout=30,
                init=_decode_json_natively,
            )

    async def dispose(self) -> None:
        if self.driver_pool is not None:
            await self.driver_pool.close()
        await self.engine.dispose()


async def _decode_json_natively(connection: asyncpg.Connection) -> None:
    for pg_type in ("json", "jsonb"):
        await connection.set_type_codec(
            pg_type, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog"
        )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class FastQuery:
    """A read that the hottest routes run on every request, kept as lean as the driver.

    Compiled once; on PostgreSQL it runs straight on an asyncpg pool (one round trip,
    no transaction, no SQLAlchemy result layer), on SQLite through SQLAlchemy. Rows come
    back as attribute objects either way. Only for plain selects of native column types:
    values arrive as the driver decodes them (UUID, aware datetime, JSON).
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        self._sql = compiled.string
        self._order = list(compiled.positiontup or [])

    async def one_or_none(self, database: Database, **params: Any) -> SimpleNamespace | None:
        if database.driver_pool is not None:
            record = await database.driver_pool.fetchrow(
                self._sql, *[params[name] for name in self._order]
            )
            return None if record is None else SimpleNamespace(**dict(record.items()))
        async with database.engine.connect() as connection:
            row = (await connection.execute(self.statement, params)).first()
        return None if row is None else SimpleNamespace(**row._asdict())
