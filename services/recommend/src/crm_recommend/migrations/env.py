"""Alembic environment of the recommend service."""

from crm_recommend.tables import metadata
from crm_shared.migrations import run_env

run_env(metadata)
