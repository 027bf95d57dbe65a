"""Alembic environment of the analytics service."""

from crm_analytics.models import metadata
from crm_shared.migrations import run_env

run_env(metadata)
