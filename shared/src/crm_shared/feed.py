"""Change feeds: a per-service counter that stamps every change with a monotonic position.

Exports stream rows "changed after cursor N" ordered by that position. Taking the next
position locks the counter row until the transaction ends, so positions become visible
in the order they were handed out: a reader can never see position N+1 while N is still
uncommitted, and so never skips a change.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import BigInteger, Column, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_shared.db import dialect_of


def feed_counter_table(metadata: MetaData) -> Table:
    return Table(
        "feed_counter",
        metadata,
        Column("feed", String(40), primary_key=True),
        Column("position", BigInteger, nullable=False),
    )


async def take_positions(
    db: AsyncSession | AsyncConnection, counter: Table, feed: str, count: int = 1
) -> int:
    """Reserve `count` consecutive positions of `feed`; returns the first of them."""
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


NDJSON = "application/x-ndjson"


class NdjsonStream(StreamingResponse, JSONResponse):
    """A change feed's response: a stream of JSON lines.

    It streams as a StreamingResponse; being a JSONResponse too makes FastAPI publish the
    route's `response_model` as the schema of its content, that is, of one line.
    """

    media_type = NDJSON
