"""Fixtures of the orders service suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from crm_orders.main import create_app
from crm_orders.models import metadata
from crm_orders.settings import OrdersSettings
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures

globals().update(service_fixtures(ServiceSpec("orders", create_app, OrdersSettings, metadata)))
