"""Alembic environment of the customer service."""

from crm_customer.models import metadata
from crm_shared.migrations import run_env

run_env(metadata)
