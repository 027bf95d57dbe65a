"""Fixtures of the recommend service suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from crm_recommend.main import create_app
from crm_recommend.models import metadata
from crm_recommend.settings import RecommendSettings
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures

SPEC = ServiceSpec("recommend", create_app, RecommendSettings, metadata)
globals().update(service_fixtures(SPEC))
