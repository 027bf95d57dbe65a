"""Settings base: every service reads its configuration from the environment only."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SERVICE_TOKEN = "dev-service-token"  # noqa: S105 - refused in production, see below


class Environment(StrEnum):
    development = "development"
    production = "production"


class ServiceSettings(BaseSettings):
    """What every service needs; each service subclasses it with its own env prefix.

    The defaults run the embedded mode (SQLite under ./var/) with nothing installed.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str] = "service"

    environment: Environment = Field(
        Environment.development,
        description="`production` refuses to start with a default secret.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of this service's own database: `postgresql://user@host/db` "
            "(driven by asyncpg) or `sqlite:///path.db` (aiosqlite). "
            "Empty means a SQLite file under `var/`."
        ),
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="Connections kept per process.")
    db_pool_overflow: int = Field(10, ge=0, le=200, description="Extra connections under load.")
    db_pool_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a request waits for a pooled connection before 503."
    )
    host: str = Field("127.0.0.1", description="Interface the service listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the service listens on.")
    service_token: SecretStr = Field(
        SecretStr(DEFAULT_SERVICE_TOKEN),
        description=(
            "Shared secret the gateway and sibling services send in `X-Service-Token`; "
            "every `/v1` call without it is refused."
        ),
    )
    log_level: str = Field("INFO", description="Python log level of the JSON logs.")
    idempotency_retention_hours: int = Field(
        24, ge=1, le=24 * 90, description="How long an answer to an Idempotency-Key is replayed."
    )
    run_migrations: bool = Field(
        True, description="Apply this service's Alembic migrations before serving."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path('var') / f'{self.service_name}.db'}"

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Self:
        if (
            self.environment is Environment.production
            and self.service_token.get_secret_value() == DEFAULT_SERVICE_TOKEN
        ):
            raise ValueError("service_token must be set to a secret of its own in production")
        return self


def reference_table(settings_class: type[ServiceSettings]) -> str:
    """The Markdown reference of a service's environment variables, from its settings."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    lines = ["| variable | default | description |", "| --- | --- | --- |"]
    for name, field in settings_class.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            shown = "(a development secret; must be set in production)"
        elif isinstance(default, StrEnum):
            shown = f"`{default.value}`"
        elif default in ("", None):
            shown = "(empty)"
        else:
            shown = f"`{default}`"
        description = (field.description or "").replace("\n", " ")
        lines.append(f"| `{prefix}{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines)
