"""`python -m crm_orders` serves the orders service with its environment's settings."""

from crm_orders.main import run

run()
