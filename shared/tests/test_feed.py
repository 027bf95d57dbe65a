"""Change-feed positions: handed out without holding writers back, read in commit order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_shared.db import Database, create_engine
from crm_shared.feed import feed_counter_table, hold, readable, take_positions
from crm_shared.testing import fresh_postgres_database, sqlite_url

FEED = "things"

metadata = MetaData()
counter = feed_counter_table(metadata)
changes = Table("changes", metadata, Column("position", BigInteger, primary_key=True))


class Rollback(Exception):
    """Raised inside a writer's block to end its transaction without committing."""


def _database_url(request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp.mktemp("feed"), "feed")
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_admin_url"), "crm_feed") as u:
        yield u


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _database_url(request, tmp_path_factory)


@pytest.fixture(params=["postgresql"])
def postgres_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from _database_url(request, tmp_path_factory)


async def _open(url: str) -> Database:
    database = Database(create_engine(url))
    await database.start()
    async with database.engine.begin() as db:
        await db.run_sync(metadata.create_all)
    return database


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    database = await _open(url)
    yield database
    await database.dispose()


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[Database]:
    database = await _open(postgres_url)
    yield database
    await database.dispose()


async def _write(db: AsyncConnection | AsyncSession, count: int) -> list[int]:
    first = await take_positions(db, counter, FEED, count)
    positions = list(range(first, first + count))
    await db.execute(insert(changes), [{"position": p} for p in positions])
    return positions


async def _write_and_roll_back(database: Database, count: int) -> None:
    try:
        async with database.writer() as db:
            await _write(db, count)
            raise Rollback
    except Rollback:
        pass


async def _read(database: Database, after: int = 0) -> list[int]:
    async with database.engine.connect() as db:
        position = changes.c.position
        statement = (
            select(position)
            .where(position > after, readable(db, counter, FEED, position))
            .order_by(position)
        )
        return list((await db.execute(statement)).scalars())


async def test_positions_are_consecutive_blocks_visible_once_committed(database: Database) -> None:
    async with database.writer() as db:
        assert await _write(db, 3) == [1, 2, 3]
        assert await take_positions(db, counter, FEED, 0) == 4  # nothing reserved
        assert await _write(db, 1) == [4]
        assert await _read(database) == []
    await _write_and_roll_back(database, 2)
    async with database.writer() as db:
        later = await _write(db, 2)
    # PostgreSQL leaves the rolled-back block unused; SQLite hands it out again.
    assert later in ([5, 6], [7, 8])
    assert await _read(database) == [1, 2, 3, 4, *later]
    assert await _read(database, after=4) == later


async def test_a_held_feed_hands_out_positions_inside_its_transaction(database: Database) -> None:
    async with AsyncSession(database.engine) as session, session.begin():
        await hold(session, counter, FEED)
        assert await _write(session, 2) == [1, 2]
    assert await _read(database) == [1, 2]


async def test_without_the_driver_pool_positions_are_claimed_on_another_connection(
    postgres: Database,
) -> None:
    async with postgres.engine.begin() as db:
        assert await _write(db, 2) == [1, 2]
    assert await _read(postgres) == [1, 2]


async def test_an_open_writer_blocks_no_other_writer_and_readers_wait_for_it(
    postgres: Database,
) -> None:
    """A long import takes positions and stays open; a single create still commits at
    once, but readers see nothing past the open writer's positions until it commits."""
    claimed = asyncio.Event()
    finish = asyncio.Event()

    async def long_writer() -> list[int]:
        async with postgres.writer() as db:
            positions = await _write(db, 5)
            claimed.set()
            await finish.wait()
            return positions

    importing = asyncio.create_task(long_writer())
    await asyncio.wait_for(claimed.wait(), 5)

    async def short_writer() -> list[int]:
        async with postgres.writer() as db:
            return await _write(db, 1)

    assert await asyncio.wait_for(short_writer(), 5) == [6]
    assert await _read(postgres) == []
    finish.set()
    assert await importing == [1, 2, 3, 4, 5]
    assert await _read(postgres) == [1, 2, 3, 4, 5, 6]


async def test_a_writer_that_rolled_back_holds_nothing_back(postgres: Database) -> None:
    await _write_and_roll_back(postgres, 3)
    async with postgres.writer() as db:
        assert await _write(db, 1) == [4]
    assert await _read(postgres) == [4]


async def test_a_claim_a_rolled_back_savepoint_left_holds_nothing_back(
    postgres: Database,
) -> None:
    async with postgres.writer() as db:
        savepoint = await db.begin_nested()
        await _write(db, 2)
        await savepoint.rollback()
        assert await _write(db, 1) == [3]
    async with postgres.writer() as db:
        assert await _write(db, 1) == [4]
    assert await _read(postgres) == [3, 4]


async def test_concurrent_readers_never_miss_a_change(postgres: Database) -> None:
    """Writers commit out of position order (some roll back) while readers follow the
    feed with a cursor: no reader ever sees a position at or below its cursor later, and
    each ends with exactly the committed changes."""
    rng = random.Random(7)
    committed: set[int] = set()
    writing = True

    async def writer(turns: int) -> None:
        for _ in range(turns):
            delay = rng.uniform(0, 0.03)
            try:
                async with postgres.writer() as db:
                    positions = await _write(db, rng.randint(1, 4))
                    await asyncio.sleep(delay)
                    if rng.random() < 0.15:
                        raise Rollback
                committed.update(positions)
            except Rollback:
                pass

    async def reader() -> list[int]:
        seen: list[int] = []
        cursor = 0
        while True:
            done = not writing
            page = await _read(postgres, after=cursor)
            seen.extend(page)
            cursor = page[-1] if page else cursor
            if done:
                return seen
            await asyncio.sleep(0.002)

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    await asyncio.gather(*(writer(25) for _ in range(6)))
    writing = False
    for seen in await asyncio.gather(*readers):
        assert seen == sorted(committed)
    assert len(committed) > 100
