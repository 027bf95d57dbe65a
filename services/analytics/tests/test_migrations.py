"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from fastapi import FastAPI

from crm_analytics.models import metadata
from crm_shared.testing import migration_differences


async def test_migrated_schema_matches_the_models(app: FastAPI) -> None:
    assert await migration_differences(app.state.database, metadata) == []
