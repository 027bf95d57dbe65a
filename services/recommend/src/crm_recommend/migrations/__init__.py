"""`python -m crm_recommend.migrations upgrade|current|revision -m MESSAGE`."""
