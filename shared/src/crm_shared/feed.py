"""Change feeds: a per-service counter that stamps every change with a monotonic position.

Exports stream rows "changed after cursor N" ordered by that position. A reader must never
see position N+1 while N can still appear, or it would skip N for good. Two ways keep it so:

- SQLite has one writer at a time: positions are taken inside the writer's transaction,
  and they become visible in the order they were handed out.
- On PostgreSQL a writer claims its block of positions in a short transaction of its own
  (the counter row is locked only for that moment), recording the claim in `feed_claims`
  with its transaction id; its own transaction deletes the claim, so the claim disappears
  exactly when the positions become visible. Readers return only positions below the
  oldest claim still open (`readable`), so a long import holds back what readers see of
  positions after its own, yet blocks no other writer. A claim of a transaction that
  rolled back or died is recognised by its status and ignored, then swept, as is one a
  rolled-back savepoint left behind a committed writer.

A writer that must keep others out of a feed for its whole transaction (to check what is
stored before it writes) can still `hold` it: the counter row stays locked until the
transaction ends, and positions are then taken inside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import UserDefinedType

from crm_shared.db import FEED_CLAIMS, dialect_of

if TYPE_CHECKING:
    from pydantic import BaseModel

    from crm_shared.db import Database

CLAIMS_TABLE = "feed_claims"
# Past every position a feed will reach: "no claim open" in SQL.
_NO_CLAIM = 2**63 - 1

# One statement in its own (autocommit) transaction: advance the counter, record the claim,
# sweep the claims of writers that rolled back. Claims commit in position order, since
# each waits for the counter row its predecessor held until its own commit.
_CLAIM = """
WITH taken AS (
    INSERT INTO feed_counter (feed, position) VALUES ($1, $2)
    ON CONFLICT (feed) DO UPDATE SET position = feed_counter.position + $2
    RETURNING position
), swept AS (
    DELETE FROM feed_claims
    WHERE feed = $1
      AND coalesce(pg_xact_status(writer_xid::text::xid8), 'aborted') <> 'in progress'
)
INSERT INTO feed_claims (feed, first_position, last_position, writer_xid)
SELECT $1, position - $2 + 1, position, $3 FROM taken
RETURNING first_position
"""


def feed_counter_table(metadata: MetaData) -> Table:
    """The counter of every feed of a service, with the claims table beside it."""
    feed_claims_table(metadata)
    return Table(
        "feed_counter",
        metadata,
        Column("feed", String(40), primary_key=True),
        Column("position", BigInteger, nullable=False),
    )


def feed_claims_table(metadata: MetaData) -> Table:
    """Blocks of positions handed out to transactions that have not committed yet."""
    return Table(
        CLAIMS_TABLE,
        metadata,
        Column("feed", String(40), nullable=False),
        Column("first_position", BigInteger, nullable=False),
        Column("last_position", BigInteger, nullable=False),
        # pg_current_xact_id() of the writer, as a number.
        Column("writer_xid", BigInteger, nullable=False),
        PrimaryKeyConstraint("feed", "first_position"),
    )


def _claims_of(counter: Table) -> Table:
    return counter.metadata.tables[CLAIMS_TABLE]


async def take_positions(
    db: AsyncSession | AsyncConnection, counter: Table, feed: str, count: int = 1
) -> int:
    """Reserve `count` consecutive positions of `feed`; returns the first of them.

    They become visible to readers when the caller's transaction commits.
    """
    if count < 0:
        raise ValueError(f"a feed cannot hand out {count} positions")
    if count == 0 and dialect_of(db) == "postgresql":
        # Nothing to reserve, so nothing to claim or lock: the next position as it stands.
        statement = select(counter.c.position).where(counter.c.feed == feed)
        return int((await db.execute(statement)).scalar_one_or_none() or 0) + 1
    if dialect_of(db) != "postgresql" or (
        isinstance(db, AsyncSession) and feed in db.info.get(_HELD, ())
    ):
        return await _take_inside(db, counter, feed, count)
    claims = _claims_of(counter)
    writer = (await db.execute(select(func.pg_current_xact_id().cast(String)))).scalar_one()
    connection = db if isinstance(db, AsyncConnection) else await db.connection()
    first = await _claim(connection, feed, count, int(writer))
    # Gone with the commit that makes the positions visible; kept if the writer rolls back.
    await db.execute(claims.delete().where(claims.c.feed == feed, claims.c.first_position == first))
    return first


async def hold(session: AsyncSession, counter: Table, feed: str) -> None:
    """Lock `feed` until the session's transaction ends: no other writer of it commits
    meanwhile. Positions the transaction takes of it afterwards come from inside it."""
    await _take_inside(session, counter, feed, 0)
    session.info[_HELD] = {*session.info.get(_HELD, ()), feed}


def readable(
    db: AsyncSession | AsyncConnection, counter: Table, feed: str, position: Any
) -> ColumnElement[bool]:
    """The condition a feed's reader adds: `position` is below every claim still open.

    Evaluated in the reader's statement, under its snapshot: a claim is open when its
    writer had not committed when the snapshot was taken and has not rolled back.
    """
    if dialect_of(db) != "postgresql":
        return true()
    claims = _claims_of(counter)
    writer = cast(claims.c.writer_xid.cast(String), _Xid8())
    oldest_open = (
        select(func.min(claims.c.first_position))
        .where(
            claims.c.feed == feed,
            # Committed before the snapshot: its positions are all visible already (the
            # claim outlived it only if a savepoint that deleted it was rolled back).
            ~func.pg_visible_in_snapshot(writer, func.pg_current_snapshot()),
            func.coalesce(func.pg_xact_status(writer), "aborted") != "aborted",
        )
        .scalar_subquery()
    )
    return cast(position < func.coalesce(oldest_open, literal(_NO_CLAIM, BigInteger)), Boolean)


class _Xid8(UserDefinedType[int]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


# Session info key: the feeds the session's transaction holds.
_HELD = "crm_held_feeds"


async def _take_inside(
    db: AsyncSession | AsyncConnection, counter: Table, feed: str, count: int
) -> int:
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    statement = (
        insert(counter)
        .values(feed=feed, position=count)
        .on_conflict_do_update(
            index_elements=[counter.c.feed],
            set_={"position": counter.c.position + count},
        )
        .returning(counter.c.position)
    )
    last = (await db.execute(statement)).scalar_one()
    return int(last) - count + 1


async def _claim(connection: AsyncConnection, feed: str, count: int, writer: int) -> int:
    """Claim positions in a transaction of their own, on another connection than the
    writer's: the service's driver pool when it has one, else one more of the engine's."""
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    database = options.get(FEED_CLAIMS)
    pool = getattr(database, "driver_pool", None)
    if pool is not None:
        return int(await pool.fetchval(_CLAIM, feed, count, writer))
    async with connection.engine.connect() as own:
        # Straight on the driver, outside any transaction SQLAlchemy would begin.
        driver = (await own.get_raw_connection()).driver_connection
        if driver is None:
            raise RuntimeError("no driver connection to claim feed positions on")
        return int(await driver.fetchval(_CLAIM, feed, count, writer))


async def feed_lines(
    database: Database,
    read_page: Callable[[AsyncConnection, int, int], Awaitable[Sequence[Any]]],
    line_of: Callable[[Any], BaseModel],
    after: int,
    limit: int | None,
    page_size: int = 1000,
) -> AsyncIterator[bytes]:
    """NDJSON lines of a feed after position `after`, oldest change first, at most `limit`.

    `read_page(db, after, size)` returns up to `size` rows after a position, each with its
    `change_position`; `line_of` makes a row the feed's line. Each page is read on a
    connection of its own, so a slow reader holds none.
    """
    remaining = limit
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        async with database.engine.connect() as db:
            rows = await read_page(db, after, size)
        for row in rows:
            yield line_of(row).model_dump_json().encode() + b"\n"
        if len(rows) < size:
            return
        after = rows[-1].change_position
        if remaining is not None:
            remaining -= len(rows)


NDJSON = "application/x-ndjson"


class NdjsonStream(StreamingResponse, JSONResponse):
    """A change feed's response: a stream of JSON lines.

    It streams as a StreamingResponse; being a JSONResponse too makes FastAPI publish the
    route's `response_model` as the schema of its content, that is, of one line.
    """

    media_type = NDJSON
