"""Fixtures of the analytics service suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from crm_analytics.main import create_app
from crm_analytics.models import metadata
from crm_analytics.settings import AnalyticsSettings
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures

SPEC = ServiceSpec("analytics", create_app, AnalyticsSettings, metadata)
globals().update(service_fixtures(SPEC))
