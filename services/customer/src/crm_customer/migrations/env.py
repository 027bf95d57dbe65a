"""Alembic environment of the customer service."""

from crm_shared.migrations import run_env

from crm_customer.models import metadata

run_env(metadata)
