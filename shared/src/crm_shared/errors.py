"""Domain errors carry their HTTP status; one set of handlers turns all errors into problem+json."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar, cast

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_shared.json import dumps
from crm_shared.logs import current_request_id
from crm_shared.schemas.common import FieldError, Problem

log = logging.getLogger("crm.errors")

PROBLEM_JSON = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:crm:problem:{slug}"


class DomainError(Exception):
    """An expected failure of the domain; subclasses set the status and a stable slug."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Unprocessable(DomainError):
    """The request is well-formed but refers to something that cannot be used."""

    status = 422
    slug = "unprocessable"
    title = "Unprocessable request"


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"


class UpstreamUnavailable(DomainError):
    status = 503
    slug = "upstream-unavailable"
    title = "A service this request depends on is unavailable"


class InvalidCursor(DomainError):
    status = 400
    slug = "invalid-cursor"
    title = "Invalid cursor"


def problem_response(
    request: Request | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    problem = Problem(
        type=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        request_id=current_request_id(),
        errors=list(errors) if errors is not None else None,
        **extensions,
    )
    body = dumps(problem.model_dump(exclude_none=True))
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def validation_errors(raw: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(
            field=_field_path(error["loc"]),
            message=error["msg"].removeprefix("Value error, "),
            code=error["type"],
        )
        for error in raw
    ]


async def _domain_error(request: Request, exc: Exception) -> Response:
    exc = cast(DomainError, exc)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers or None,
        **exc.extensions,
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    errors = validation_errors(exc.errors())
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="The request is invalid",
        detail=f"{len(errors)} invalid field(s): " + ", ".join(e.field for e in errors[:5]),
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI's answer to a JSON body it could not parse for another reason than its
        # syntax (bytes that are not UTF-8, nesting deeper than the parser goes): a
        # malformed payload, so a 422 like any other JSON that does not parse.
        return problem_response(
            request,
            status=422,
            slug="validation-error",
            title="The request is invalid",
            detail="1 invalid field(s): body",
            errors=[
                FieldError(
                    field="body", message="The body is not parseable JSON", code="json_invalid"
                )
            ],
        )
    phrase = HTTPStatus(exc.status_code).phrase
    return problem_response(
        request,
        status=exc.status_code,
        slug=phrase.lower().replace(" ", "-").replace("'", ""),
        title=phrase,
        detail=str(exc.detail) if exc.detail != phrase else None,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    # A unique or foreign key constraint lost a race with a concurrent write: retryable.
    log.info("integrity conflict", extra={"error": type(exc).__name__})
    return problem_response(
        request,
        status=409,
        slug="conflict",
        title="Conflict",
        detail="The change conflicts with a concurrent change; retry the request.",
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return problem_response(
        request,
        status=503,
        slug="database-unavailable",
        title="The database is unavailable",
        detail="The service cannot reach its database; nothing was changed. Retry shortly.",
        headers={"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="The request failed unexpectedly; quote the request id when reporting it.",
    )


# What a lost or unreachable database raises, through SQLAlchemy or from the driver
# itself: code outside a request's handlers (middleware) catches these to answer 503.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(OSError, _database_unavailable)
    # The driver pool of FastQuery raises the driver's own errors.
    app.add_exception_handler(asyncpg.PostgresConnectionError, _database_unavailable)
    app.add_exception_handler(asyncpg.InterfaceError, _database_unavailable)
    app.add_exception_handler(asyncpg.CannotConnectNowError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring the problem+json errors a route can return."""
    described = {
        400: "Bad request",
        401: "Missing or invalid service token",
        404: "Not found",
        409: "Conflict with the current state",
        422: "Invalid request",
        503: "A dependency is unavailable",
    }
    return {
        status: {
            "model": Problem,
            "description": described.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
