"""Alembic environment of the gateway."""

from crm_gateway.models import metadata
from crm_shared.migrations import run_env

run_env(metadata)
