"""Problem+json answers sent straight from ASGI, for calls refused before any route runs."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope, Send

from crm_shared.errors import PROBLEM_JSON, problem_type
from crm_shared.json import dumps
from crm_shared.logs import current_request_id


async def send_problem(
    scope: Scope,
    send: Send,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extensions: Any,
) -> None:
    body = dumps(
        {
            "type": problem_type(slug),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope["path"],
            "request_id": current_request_id(),
            **extensions,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", b"%d" % len(body)),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
