"""Fixtures of the customer service suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from crm_customer.main import create_app
from crm_customer.models import metadata
from crm_customer.settings import CustomerSettings
from crm_shared.db import Database
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


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        if postgres_required():
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sqlite"), "customer")
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url, "crm_customer_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> CustomerSettings:
    return CustomerSettings(database_url=database_url, service_token=SecretStr(TEST_SERVICE_TOKEN))


@pytest.fixture(scope="session")
async def app(settings: CustomerSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with running_app(application):
        yield application


@pytest.fixture
async def database(app: FastAPI) -> Database:
    """The service's database, emptied before the test."""
    database: Database = app.state.database
    await empty_tables(database, metadata)
    return database


@pytest.fixture
async def client(app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


CustomerFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_customer(client: httpx.AsyncClient) -> CustomerFactory:
    """Creates a customer through the API; a unique email unless one is given."""
    serial = itertools.count(1)

    async def create(**fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"email": f"customer{next(serial)}@example.com", **fields}
        response = await client.post("/v1/customers", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create
