"""Pulling a change feed into a local copy: resumable, exact, and honest about staleness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_shared.db import Database, create_engine, upsert
from crm_shared.feed import NDJSON
from crm_shared.sync import FeedUnavailable, feed_states, pull_feed, sync_cursor_table
from crm_shared.testing import fresh_postgres_database, sqlite_url

metadata = MetaData()
cursors = sync_cursor_table(metadata)
copies = Table(
    "copies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
)


class Source:
    """A source service's feed that can be changed, and cut off after some lines the
    way a dying server cuts a chunked response: httpx raises mid-stream."""

    def __init__(self) -> None:
        self.lines: list[dict[str, int | str]] = []
        self.fail_after: int | None = None

    def change(self, id_: int, name: str) -> None:
        self.lines = [line for line in self.lines if line["id"] != id_]
        position = max((int(line["position"]) for line in self.lines), default=0) + 1
        self.lines.append({"position": position, "id": id_, "name": name})

    async def _body(self, cursor: int) -> AsyncIterator[bytes]:
        after = [line for line in self.lines if int(line["position"]) > cursor]
        for sent, line in enumerate(after):
            if self.fail_after is not None and sent >= self.fail_after:
                raise httpx.RemoteProtocolError("peer closed connection mid-body")
            yield orjson.dumps(line) + b"\n"

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = self._body(int(request.url.params.get("cursor", "0")))
        return httpx.Response(200, headers={"content-type": NDJSON}, stream=_Stream(body))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle), base_url="http://s")


class _Stream(httpx.AsyncByteStream):
    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.body:
            yield chunk


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sync"), "sync")
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_admin_url"), "crm_sync") as u:
        yield u


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(url))
    async with database.engine.begin() as db:
        await db.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def _apply(db: AsyncConnection, lines: list[dict[str, object]]) -> None:
    rows = [{"id": line["id"], "name": line["name"]} for line in lines]
    await upsert(db, copies, rows, key=["id"])


async def _copy(database: Database) -> dict[int, str]:
    async with database.engine.connect() as db:
        return {row.id: row.name for row in (await db.execute(select(copies))).all()}


async def test_a_pull_applies_changes_after_the_cursor_and_resumes(database: Database) -> None:
    source = Source()
    for i in range(1, 8):
        source.change(i, f"v1-{i}")
    async with source.client() as client:
        first = await pull_feed(database, cursors, "things", client, "/feed", _apply, batch_lines=3)
        assert (first.lines, first.position) == (7, 7)
        source.change(2, "v2-2")
        source.change(8, "v1-8")
        second = await pull_feed(database, cursors, "things", client, "/feed", _apply)
    assert (second.lines, second.position) == (2, 9)
    copy = await _copy(database)
    assert copy == {**{i: f"v1-{i}" for i in range(1, 9)}, 2: "v2-2"}
    state = (await feed_states(database, cursors))["things"]
    assert state.position == 9
    assert state.last_error is None
    assert state.staleness_seconds() is not None
    assert state.staleness_seconds() < 60  # type: ignore[operator]


async def test_a_broken_stream_keeps_whole_batches_and_records_the_error(
    database: Database,
) -> None:
    source = Source()
    for i in range(1, 11):
        source.change(i, f"v1-{i}")
    source.fail_after = 7
    async with source.client() as client:
        with pytest.raises(FeedUnavailable):
            await pull_feed(database, cursors, "things", client, "/feed", _apply, batch_lines=3)
        # Two whole batches landed with their cursor; the partial third did not.
        assert sorted(await _copy(database)) == [1, 2, 3, 4, 5, 6]
        state = (await feed_states(database, cursors))["things"]
        assert (state.position, state.synced_at) == (6, None)
        assert state.last_error
        source.fail_after = None
        resumed = await pull_feed(database, cursors, "things", client, "/feed", _apply)
    assert (resumed.lines, resumed.position) == (4, 10)
    assert sorted(await _copy(database)) == list(range(1, 11))
    assert (await feed_states(database, cursors))["things"].last_error is None


async def test_an_unreachable_source_is_a_feed_error(database: Database) -> None:
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as client:
        with pytest.raises(FeedUnavailable):
            await pull_feed(database, cursors, "things", client, "/feed", _apply)
    state = (await feed_states(database, cursors))["things"]
    assert state.position == 0
    assert state.synced_at is None
    assert state.last_error


async def test_concurrent_pulls_of_one_feed_apply_each_line_once(database: Database) -> None:
    """Replicas pulling the same feed take turns: a plain insert of a line twice would
    break the primary key, so every line landing once is the proof."""
    source = Source()
    for i in range(1, 201):
        source.change(i, f"v1-{i}")

    async def insert_only(db: AsyncConnection, lines: list[dict[str, object]]) -> None:
        await db.execute(
            copies.insert(), [{"id": line["id"], "name": line["name"]} for line in lines]
        )

    async with source.client() as one, source.client() as two:
        results = await asyncio.gather(
            pull_feed(database, cursors, "things", one, "/feed", insert_only, batch_lines=7),
            pull_feed(database, cursors, "things", two, "/feed", insert_only, batch_lines=7),
        )
    assert sum(result.lines for result in results) == 200
    assert sorted(await _copy(database)) == list(range(1, 201))
    assert (await feed_states(database, cursors))["things"].position == 200
