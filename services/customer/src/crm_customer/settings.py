"""Configuration of the customer service, from `CUSTOMER_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMER_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "customer"

    port: int = Field(8001, ge=1, le=65535, description="Port the service listens on.")
    import_batch_size: int = Field(
        2000, ge=100, le=50_000, description="Rows written per statement by the bulk import."
    )
    import_max_rows: int = Field(
        1_000_000, ge=1, description="Most rows one bulk import request may carry."
    )
