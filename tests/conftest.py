"""Fixtures of the cross-service suite: real processes on real databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_shared.testing import fresh_postgres_database, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def customer_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database for one customer service process."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("e2e"), "customer")
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url, "crm_e2e_customer") as url:
        yield url
