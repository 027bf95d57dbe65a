"""`Idempotency-Key` for writes a client may retry: a retry replays the first answer.

The key is claimed inside the request's own transaction, so the claim and the write it
protects commit (or roll back) together. A concurrent retry waits on the claim's row and
then replays; the same key with a different body is a 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_shared.app import PeriodicJob
from crm_shared.db import UTCDateTime, dialect_of, utcnow
from crm_shared.errors import Conflict

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
    )


async def idempotency_key_header(
    idempotency_key: str | None = Header(
        None,
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=200,
        description="Makes the request safe to retry: a retry returns the first result.",
    ),
) -> str | None:
    return idempotency_key


class IdempotencyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def respond(
        self,
        session: AsyncSession,
        *,
        key: str | None,
        scope: str,
        status_code: int,
        produce: Callable[[], Awaitable[BaseModel]],
        request_body: bytes = b"",
        fingerprint: str | None = None,
    ) -> Response:
        """Run `produce` once per key and answer with its result as JSON.

        The request is recognised by the hash of `request_body`, or by `fingerprint` when
        the caller hashed a streamed body itself.
        """
        if key is None:
            return _json(status_code, (await produce()).model_dump_json().encode())
        if fingerprint is None:
            fingerprint = hashlib.sha256(request_body).hexdigest()
        stored = await self._claim(session, scope, key, fingerprint)
        if stored is not None:
            stored_status, stored_body, stored_fingerprint = stored
            if stored_fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {key!r} was first used with a different request body."
                )
            response = _json(stored_status, stored_body)
            response.headers[REPLAYED_HEADER] = "true"
            return response
        body = (await produce()).model_dump_json().encode()
        await session.execute(
            self.table.update()
            .where(self.table.c.scope == scope, self.table.c.key == key)
            .values(status_code=status_code, body=body)
        )
        return _json(status_code, body)

    async def purge(self, engine: AsyncEngine, older_than: dt.timedelta) -> int:
        """Forget keys older than the retention: a retry after that is a new request."""
        cutoff = utcnow() - older_than
        async with engine.begin() as connection:
            result = await connection.execute(
                delete(self.table).where(self.table.c.created_at < cutoff)
            )
        return int(result.rowcount)

    def purge_job(self) -> PeriodicJob:
        """The hourly job that purges keys past the service's `idempotency_retention_hours`."""

        async def purge(app: FastAPI) -> int:
            hours = app.state.settings.idempotency_retention_hours
            return await self.purge(app.state.database.engine, dt.timedelta(hours=hours))

        return PeriodicJob("purge idempotency keys", 3600, purge)

    async def _claim(
        self, session: AsyncSession, scope: str, key: str, fingerprint: str
    ) -> tuple[int, bytes, str] | None:
        insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
        claimed = await session.execute(
            insert(self.table)
            .values(scope=scope, key=key, fingerprint=fingerprint, created_at=utcnow())
            .on_conflict_do_nothing()
            .returning(self.table.c.key)
        )
        if claimed.first() is not None:
            return None
        row = (
            await session.execute(
                select(self.table.c.status_code, self.table.c.body, self.table.c.fingerprint).where(
                    self.table.c.scope == scope, self.table.c.key == key
                )
            )
        ).one()
        return int(row.status_code), bytes(row.body), str(row.fingerprint)


def _json(status_code: int, body: bytes) -> Response:
    return Response(body, status_code=status_code, media_type="application/json")
