"""Alembic environment of the orders service."""

from crm_orders.models import metadata
from crm_shared.migrations import run_env

run_env(metadata)
