"""Errors of the keys domain."""

from crm_shared.errors import NotFound


class ApiKeyNotFound(NotFound):
    slug = "api-key-not-found"
    title = "API key not found"
