"""Fixtures for every suite of the workspace (see crm_shared.pytest_plugin)."""

pytest_plugins = ["crm_shared.pytest_plugin"]
