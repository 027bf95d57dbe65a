"""All SQL of the keys domain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_gateway.keys.models import ApiKey

api_keys = ApiKey.__table__  # type: ignore[attr-defined]

Db = AsyncSession | AsyncConnection


async def add_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)
    await session.flush()


async def get_key(db: Db, key_id: str) -> Row[Any] | None:
    return (await db.execute(select(api_keys).where(api_keys.c.id == key_id))).first()


async def list_keys(db: Db, *, after: tuple[dt.datetime, str] | None, limit: int) -> list[Row[Any]]:
    """Oldest first; `limit + 1` rows so the caller knows whether a next page exists."""
    statement = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id).limit(limit + 1)
    if after is not None:
        statement = statement.where(tuple_(api_keys.c.created_at, api_keys.c.id) > after)
    return list((await db.execute(statement)).all())


async def revoke(session: AsyncSession, key_id: str, now: dt.datetime) -> None:
    """Mark the key revoked unless it already is (the first revocation time is kept)."""
    await session.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
