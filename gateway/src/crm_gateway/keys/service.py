"""The logic of API keys: issuing, listing, revoking, and recognising them on every call."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_gateway.keys import repository, tokens
from crm_gateway.keys.errors import ApiKeyNotFound
from crm_gateway.keys.models import ApiKey
from crm_gateway.keys.repository import Db
from crm_shared.db import Database, utcnow
from crm_shared.errors import DATABASE_UNAVAILABLE, InvalidCursor
from crm_shared.pagination import decode_cursor, next_cursor
from crm_shared.schemas.common import Page
from crm_shared.schemas.gateway import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, ApiKeyRole

BOOTSTRAP_KEY_ID = "bootstrap"
_CACHE_LIMIT = 10_000

log = logging.getLogger("crm.gateway.keys")


class KeyStoreUnavailable(Exception):
    """The keys table cannot be read and the key was never looked up before."""


def key_read(row: Any) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        role=ApiKeyRole(row.role),
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def create_key(
    session: AsyncSession, payload: ApiKeyCreate, created_by: str | None
) -> ApiKeyCreated:
    issued = tokens.new_key()
    key = ApiKey(
        id=issued.key_id,
        name=payload.name,
        role=payload.role.value,
        secret_sha256=issued.secret_sha256,
        created_by=created_by,
    )
    await repository.add_key(session, key)
    return ApiKeyCreated(**key_read(key).model_dump(), key=issued.token)


async def get_key(db: Db, key_id: str) -> ApiKeyRead:
    row = await repository.get_key(db, key_id)
    if row is None:
        raise ApiKeyNotFound(f"There is no API key {key_id!r}.")
    return key_read(row)


async def list_keys(db: Db, *, limit: int, cursor: str | None) -> Page[ApiKeyRead]:
    after = None
    if cursor is not None:
        created_at, key_id = decode_cursor(cursor, 2)
        try:
            after = (dt.datetime.fromisoformat(str(created_at)), str(key_id))
        except ValueError as exc:
            raise InvalidCursor("The cursor does not belong to this list.") from exc
    rows = await repository.list_keys(db, after=after, limit=limit)
    return Page(
        items=[key_read(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: (row.created_at.isoformat(), row.id)),
    )


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKeyRead:
    """Revoke the key; revoking it again changes nothing."""
    if await repository.get_key(session, key_id) is None:
        raise ApiKeyNotFound(f"There is no API key {key_id!r}.")
    await repository.revoke(session, key_id, utcnow())
    return await get_key(session, key_id)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the id and role of the key presented."""

    key_id: str
    role: ApiKeyRole


@dataclass(frozen=True)
class _Entry:
    role: ApiKeyRole | None  # None: no such key, or revoked
    secret_sha256: str
    expires: float


class KeyRing:
    """Recognises keys, caching lookups for `ttl_seconds`.

    A key revoked through this process is refused at once; other replicas refuse it once
    their cached entry expires, within `ttl_seconds`.
    """

    def __init__(
        self, database: Database, *, ttl_seconds: float, bootstrap_admin_key: str | None
    ) -> None:
        self.database = database
        self.ttl_seconds = ttl_seconds
        self._bootstrap_sha256 = (
            hashlib.sha256(bootstrap_admin_key.encode()).hexdigest()
            if bootstrap_admin_key
            else None
        )
        self._cache: dict[str, _Entry] = {}
        self._revoked: set[str] = set()

    async def recognise(self, token: str) -> Caller | None:
        """The caller a key belongs to; None for a malformed, unknown or revoked key.

        Raises KeyStoreUnavailable when the database is unreachable and the key was never
        looked up by this process."""
        if self._bootstrap_sha256 is not None and hmac.compare_digest(
            hashlib.sha256(token.encode()).hexdigest(), self._bootstrap_sha256
        ):
            return Caller(BOOTSTRAP_KEY_ID, ApiKeyRole.admin)
        parsed = tokens.parse(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        if key_id in self._revoked:
            return None
        entry = self._cache.get(key_id)
        if entry is None or entry.expires < time.monotonic():
            try:
                entry = await self._load(key_id)
            except DATABASE_UNAVAILABLE as exc:
                # A database blip must not lock out every caller: a key looked up before
                # keeps its last answer (a revocation made meanwhile lands on reconnect).
                if entry is None:
                    raise KeyStoreUnavailable(str(exc)) from exc
                log.warning(
                    "key store unavailable; the key's last lookup stands",
                    extra={"key_id": key_id, "error": type(exc).__name__},
                )
        # Compared even for unknown keys, so timing tells nothing about which ids exist.
        if not tokens.matches(secret, entry.secret_sha256) or entry.role is None:
            return None
        return Caller(key_id, entry.role)

    async def _load(self, key_id: str) -> _Entry:
        async with self.database.engine.connect() as connection:
            row = await repository.get_key(connection, key_id)
        if row is None:
            entry = _Entry(None, "0" * 64, time.monotonic() + self.ttl_seconds)
        else:
            role = None if row.revoked_at is not None else ApiKeyRole(row.role)
            entry = _Entry(role, row.secret_sha256, time.monotonic() + self.ttl_seconds)
        if len(self._cache) >= _CACHE_LIMIT:
            # Guessed ids must not grow the cache without bound.
            self._cache.clear()
        self._cache[key_id] = entry
        return entry

    def revoked(self, key_id: str) -> None:
        self._revoked.add(key_id)
        self._cache.pop(key_id, None)
