"""`python -m crm_customer` serves the customer service with its environment's settings."""

from crm_customer.main import run

run()
