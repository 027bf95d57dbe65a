"""Keys while the gateway's database cannot be read: known keys go on, unknown ones get 503."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from crm_gateway.keys.service import KeyRing
from crm_shared.testing import assert_problem


def _database_down(app: FastAPI, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Every key lookup fails from now on, and every cached lookup has expired."""
    ring: KeyRing = app.state.runtime.key_ring

    async def unreachable(key_id: str) -> None:
        raise error

    monkeypatch.setattr(ring, "_load", unreachable)
    for key_id, entry in list(ring._cache.items()):
        ring._cache[key_id] = dataclasses.replace(entry, expires=0.0)


@pytest.mark.parametrize(
    "error",
    [
        OSError("connection refused"),
        OperationalError("SELECT", {}, ConnectionError("server closed the connection")),
    ],
    ids=["connect", "statement"],
)
async def test_a_seen_key_keeps_its_last_lookup_and_an_unseen_one_gets_503(
    app: FastAPI,
    new_key: Any,
    client_with: Any,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    seen, unseen, storefront = (
        await new_key("backoffice"),
        await new_key("backoffice"),
        await new_key("storefront"),
    )
    for key in (seen, storefront):
        async with client_with(key) as http:
            assert (await http.get("/v1/admin/keys")).status_code == 403

    _database_down(app, monkeypatch, error)
    async with client_with(seen) as http:
        # Still recognised, with its role: refused for its scope, not for the outage.
        assert_problem(await http.get("/v1/admin/keys"), 403, "insufficient-scope")
    async with client_with(storefront) as http:
        assert_problem(await http.get("/v1/customers"), 403, "insufficient-scope")
    async with client_with(unseen) as http:
        refused = await http.get("/v1/customers")
    problem = assert_problem(refused, 503, "key-store-unavailable")
    assert refused.headers["retry-after"] == "1"
    assert "connection" not in problem["detail"], "the driver's message stays inside"

    monkeypatch.undo()
    async with client_with(unseen) as http:
        assert_problem(await http.get("/v1/admin/keys"), 403, "insufficient-scope")


async def test_a_malformed_key_needs_no_database(
    app: FastAPI, client_with: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _database_down(app, monkeypatch, OSError("connection refused"))
    async with client_with("not-a-key") as http:
        assert_problem(await http.get("/v1/customers"), 401, "invalid-api-key")
