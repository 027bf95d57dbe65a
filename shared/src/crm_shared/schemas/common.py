"""Schemas every API shares: problems (RFC 9457) and keyset pages."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted path of the field, e.g. `body.address.country`.")
    message: str
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `string_too_long`.")


class Problem(BaseModel):
    """An RFC 9457 problem detail, sent as `application/problem+json`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable identifier of the kind of problem, a URN.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(None, description="Field-level validation errors.")


class Page(BaseModel, Generic[ItemT]):
    """One page of a keyset-paginated list; pass `next_cursor` back to get the next."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        None, description="Opaque cursor of the next page; null on the last page."
    )
