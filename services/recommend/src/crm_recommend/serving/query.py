"""Query strings of the storefront lists, parsed in one pydantic validation.

FastAPI's per-parameter machinery costs more than building a list does, so the hot
routes read `?limit=&offset=&category=&exclude=` (and their path parameter) themselves,
validate them with `ListQuery`, and publish the same parameters in OpenAPI. A bad value
is the usual 422 problem with field errors.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from crm_shared.schemas.recommend import MAX_EXCLUDED, MAX_LIST


class ListQuery(BaseModel):
    limit: int = Field(10, ge=1, le=MAX_LIST, description="Items to return.")
    offset: int = Field(0, ge=0, le=1000, description="Items to skip (the next page).")
    category: str | None = Field(
        None, max_length=300, description="Only products in this category path or below it."
    )
    exclude: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_EXCLUDED,
        description="Products never to show (repeat the parameter).",
    )


_DEFAULT = ListQuery()


def list_query(request: Request) -> ListQuery:
    query = request.query_params
    if not query:
        return _DEFAULT
    values: dict[str, Any] = {
        key: query[key] for key in ("limit", "offset", "category") if key in query
    }
    if "exclude" in query:
        values["exclude"] = query.getlist("exclude")
    try:
        return ListQuery.model_validate(values)
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("query", *detail["loc"])} for detail in error.errors()]
        ) from None


def product_path(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["product_id"])
    except ValueError:
        raise RequestValidationError(
            [
                {
                    "type": "uuid_parsing",
                    "loc": ("path", "product_id"),
                    "msg": "Input should be a valid UUID",
                    "input": request.path_params["product_id"],
                }
            ]
        ) from None


def parameters(*names: str, path: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI `parameters` of a route that reads `names` of `ListQuery` by hand."""
    schema = ListQuery.model_json_schema()["properties"]
    found = []
    if path is not None:
        found.append({"in": "path", "required": True, **path})
    for name in names:
        field = dict(schema[name])
        description = field.pop("description", "")
        field.pop("title", None)
        found.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": field,
            }
        )
    return {"parameters": found}
