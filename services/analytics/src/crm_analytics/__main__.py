"""`python -m crm_analytics` serves the analytics service with its environment's settings."""

from crm_analytics.main import run

run()
