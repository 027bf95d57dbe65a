"""`python -m crm_analytics.migrations upgrade|current|revision -m MESSAGE`."""
