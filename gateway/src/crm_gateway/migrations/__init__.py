"""Alembic migrations of the gateway's own database (its API keys)."""
