"""Configuration of the orders service, from `ORDERS_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "orders"

    port: int = Field(8002, ge=1, le=65535, description="Port the service listens on.")
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal URL of the customer service."
    )
    customer_cache_seconds: float = Field(
        60.0, ge=0, description="How long a customer known to exist is not asked for again."
    )
    erasure_sync_interval_seconds: float = Field(
        30.0,
        ge=0,
        description="How often the customer service's export feed is read for erasures, "
        "whose review texts and session ids are then redacted; 0 = off.",
    )
    import_batch_size: int = Field(
        2000, ge=100, le=50_000, description="Rows written per batch by the bulk imports."
    )
    import_max_rows: int = Field(
        1_000_000, ge=1, description="Most rows one product or order import may carry."
    )
    interactions_max_events: int = Field(
        50_000, ge=1, description="Most events one interactions batch may carry."
    )
