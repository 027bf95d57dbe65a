"""Fixtures of the import tests: posting a body, and an app with other import limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from crm_customer.main import create_app
from crm_customer.settings import CustomerSettings
from crm_shared.db import Database
from crm_shared.testing import client_for, running_app

Importer = Callable[..., Awaitable[httpx.Response]]
ClientWith = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def post_import(client: httpx.AsyncClient) -> Importer:
    """POSTs a body to the import as CSV (or `content_type`) with `on_error` as given."""

    async def post(
        body: bytes | AsyncIterator[bytes],
        *,
        content_type: str = "text/csv",
        on_error: str | None = None,
        headers: dict[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        params = {"on_error": on_error} if on_error else {}
        return await (http or client).post(
            "/v1/customers/import",
            content=body,
            params=params,
            headers={"content-type": content_type, **(headers or {})},
        )

    return post


@pytest.fixture
def client_with(settings: CustomerSettings, database: Database) -> ClientWith:
    """A client of a second app on the same database, built with other settings."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        fields = {
            "database_url": settings.database_url,
            "service_token": settings.service_token,
            **overrides,
        }
        app = create_app(CustomerSettings(**fields))
        async with running_app(app), client_for(app) as http:
            yield http

    return make
