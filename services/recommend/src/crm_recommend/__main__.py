"""`python -m crm_recommend` serves the recommend service with its environment's settings."""

from crm_recommend.main import run

run()
