"""`python -m crm_cli` is the `crm` command."""

from crm_cli.main import app

app()
