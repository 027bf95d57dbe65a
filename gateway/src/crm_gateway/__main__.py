"""`python -m crm_gateway` serves the gateway with its environment's settings."""

from crm_gateway.main import run

run()
