"""Configuration of the recommendation service, from `RECOMMEND_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class RecommendSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECOMMEND_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "recommend"

    port: int = Field(8004, ge=1, le=65535, description="Port the service listens on.")
    orders_url: str = Field(
        "http://127.0.0.1:8002", description="Internal URL of the orders service."
    )
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal URL of the customer service."
    )
