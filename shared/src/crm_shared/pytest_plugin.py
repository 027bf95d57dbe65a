"""Pytest fixtures every service's suite uses: each test runs on SQLite and on PostgreSQL.

A service's `tests/conftest.py` only says which service it tests:

    globals().update(service_fixtures(ServiceSpec("customer", create_app, CustomerSettings,
                                                  metadata)))

and gets `settings`, `app` (lifespan entered, migrations applied), `database` (emptied
before the test) and `client` (an async HTTP client carrying the service token). The
fixtures are made per conftest on purpose: session fixtures are cached per definition,
so one shared `app` fixture would hand one service's app to another service's tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import MetaData

from crm_shared.db import Database
from crm_shared.settings import ServiceSettings
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    PostgresUnavailable,
    client_for,
    empty_tables,
    fresh_postgres_database,
    postgres_required,
    postgres_server,
    running_app,
    sqlite_url,
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    create_app: Callable[[Any], FastAPI]
    settings_class: type[ServiceSettings]
    metadata: MetaData


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server tests may create databases on."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        if postgres_required():
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(str(exc))


def service_fixtures(spec: ServiceSpec) -> dict[str, Any]:
    """The fixtures of one service's suite, to put in its conftest's namespace."""

    @pytest.fixture(scope="session", params=["sqlite", "postgresql"])
    def database_url(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[str]:
        """A fresh database of the service under test, once per backend."""
        if request.param == "sqlite":
            yield sqlite_url(tmp_path_factory.mktemp("sqlite"), spec.name)
            return
        admin_url = request.getfixturevalue("postgres_admin_url")
        with fresh_postgres_database(admin_url, f"crm_{spec.name}_test") as url:
            yield url

    @pytest.fixture(scope="session")
    def settings(database_url: str) -> ServiceSettings:
        return spec.settings_class(
            database_url=database_url, service_token=SecretStr(TEST_SERVICE_TOKEN)
        )

    @pytest.fixture(scope="session")
    async def app(settings: ServiceSettings) -> AsyncIterator[FastAPI]:
        application = spec.create_app(settings)
        async with running_app(application):
            yield application

    @pytest.fixture
    async def database(app: FastAPI) -> Database:
        """The service's database, emptied before the test."""
        database: Database = app.state.database
        await empty_tables(database, spec.metadata)
        return database

    @pytest.fixture
    async def client(app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
        async with client_for(app) as http:
            yield http

    return {
        "database_url": database_url,
        "settings": settings,
        "app": app,
        "database": database,
        "client": client,
    }
