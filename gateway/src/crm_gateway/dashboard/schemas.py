"""Wire schemas of the dashboard's own API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from crm_shared.schemas.gateway import ApiKeyRole


class DashboardPage(StrEnum):
    overview = "overview"
    segments = "segments"
    value = "value"
    customer = "customer"
    recommendations = "recommendations"


class DashboardSession(BaseModel):
    role: ApiKeyRole
    key_id: str = Field(description="The public id of the key signed in.")
    scopes: list[str] = Field(description="What the key's role may call.")
    pages: list[DashboardPage] = Field(
        description="Dashboard pages whose every call the key may make."
    )
