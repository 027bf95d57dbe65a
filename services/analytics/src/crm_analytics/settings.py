"""Configuration of the analytics service, from `ANALYTICS_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "analytics"

    port: int = Field(8003, ge=1, le=65535, description="Port the service listens on.")
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal URL of the customer service."
    )
    orders_url: str = Field(
        "http://127.0.0.1:8002", description="Internal URL of the orders service."
    )
