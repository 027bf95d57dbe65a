"""Every table of the gateway, gathered for migrations."""

from crm_gateway.database import metadata
from crm_gateway.keys.models import ApiKey

__all__ = ["ApiKey", "metadata"]
