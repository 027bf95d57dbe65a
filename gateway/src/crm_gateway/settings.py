"""Configuration of the gateway, from `GATEWAY_*` environment variables."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from crm_shared.schemas.gateway import ApiKeyRole
from crm_shared.settings import ServiceSettings

MIB = 1024 * 1024


class RateLimit(BaseModel):
    """A token bucket: `per_second` tokens flow in, up to `burst` are kept."""

    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "gateway"

    port: int = Field(8000, ge=1, le=65535, description="Port the gateway listens on.")
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal base URL of the customer service."
    )
    orders_url: str = Field(
        "http://127.0.0.1:8002", description="Internal base URL of the orders service."
    )
    analytics_url: str = Field(
        "http://127.0.0.1:8003", description="Internal base URL of the analytics service."
    )
    recommend_url: str = Field(
        "http://127.0.0.1:8004", description="Internal base URL of the recommendation service."
    )
    required_upstreams: str = Field(
        "customer",
        description="Comma-separated services that must be ready for `/ready` to answer 200.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None,
        description=(
            "An admin key accepted without being stored (at least 32 characters), so a "
            "fresh stack can create its first keys. Unset it once real admin keys exist."
        ),
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a key lookup is cached: a revocation reaches other replicas "
        "within this time (at once on the replica that revoked it).",
    )
    rate_limit_per_second: float = Field(
        100.0, gt=0, description="Requests per second each key may make on average."
    )
    rate_limit_burst: int = Field(
        200, ge=1, description="Requests a key may make at once above its average rate."
    )
    role_rate_limits: dict[str, RateLimit] = Field(
        {"storefront": {"per_second": 1000, "burst": 2000}},
        validate_default=True,
        description='Per-role overrides as JSON, e.g. `{"storefront": {"per_second": 1000, '
        '"burst": 2000}}`: one storefront key serves every shopper of a shop.',
    )
    max_body_bytes: int = Field(
        4 * MIB, ge=1024, description="Largest request body on ordinary routes (else 413)."
    )
    max_bulk_body_bytes: int = Field(
        1024 * MIB,
        ge=1024,
        description="Largest request body on bulk routes (imports, event batches).",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated storefront origins allowed to call from a browser "
        "(e.g. `https://shop.example`); empty disables CORS.",
    )
    connect_timeout_seconds: float = Field(
        0.5, gt=0, description="How long to wait for a connection to a service."
    )
    upstream_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest silence from a service on ordinary routes (else 504)."
    )
    bulk_timeout_seconds: float = Field(
        300.0, gt=0, description="Longest silence from a service on import and export routes."
    )
    upstream_retries: int = Field(
        2, ge=0, le=5, description="Retries of idempotent calls on connection errors and 502-504."
    )
    upstream_max_connections: int = Field(
        256, ge=1, le=10_000, description="Open connections to each service, at most."
    )
    breaker_failure_threshold: int = Field(
        5, ge=1, description="Consecutive failures that open a service's circuit breaker."
    )
    breaker_open_seconds: float = Field(
        5.0, gt=0, description="How long an open breaker refuses calls before one probe."
    )
    composite_timeout_seconds: float = Field(
        2.0, gt=0, description="Time each part of a composite read (customer 360) may take."
    )
    openapi_cache_seconds: float = Field(
        60.0, ge=0, description="How long the merged OpenAPI document is reused."
    )

    def upstream_urls(self) -> dict[str, str]:
        """The services the gateway routes to; an empty URL leaves a service out."""
        urls = {
            "customer": self.customer_url,
            "orders": self.orders_url,
            "analytics": self.analytics_url,
            "recommend": self.recommend_url,
        }
        return {name: url.rstrip("/") for name, url in urls.items() if url}

    def required(self) -> list[str]:
        return [name.strip() for name in self.required_upstreams.split(",") if name.strip()]

    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def rate_limit_for(self, role: str) -> RateLimit:
        default = RateLimit(per_second=self.rate_limit_per_second, burst=self.rate_limit_burst)
        return self.role_rate_limits.get(role, default)

    @model_validator(mode="after")
    def _usable_configuration(self) -> Self:
        key = self.bootstrap_admin_key
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError("bootstrap_admin_key must be at least 32 characters")
        unknown = set(self.required()) - set(self.upstream_urls())
        if unknown:
            raise ValueError(f"required_upstreams names unconfigured services: {sorted(unknown)}")
        roles = set(self.role_rate_limits) - {role.value for role in ApiKeyRole}
        if roles:
            raise ValueError(f"role_rate_limits names unknown roles: {sorted(roles)}")
        return self
