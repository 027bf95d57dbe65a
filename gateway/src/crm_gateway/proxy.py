"""Pass-through of a call to the service that owns it: bodies streamed both ways.

Request headers are forwarded from an allow-list (so the caller's API key, cookies and
any `X-Service-Token` of its own never reach a service); the service token and the
request id are added. Hop-by-hop headers are dropped in both directions.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator

from starlette.types import Message, Receive, Scope, Send

from crm_gateway.problems import send_problem
from crm_gateway.upstreams.client import CircuitOpen, Upstream
from crm_gateway.upstreams.http11 import (
    Body,
    ConnectFailed,
    ConnectionBroken,
    Response,
    UpstreamFailure,
    UpstreamTimeout,
)
from crm_shared.logs import current_request_id
from crm_shared.middleware import REQUEST_ID_HEADER

log = logging.getLogger("crm.gateway.proxy")

FORWARDED_REQUEST_HEADERS = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"content-type",
        b"content-encoding",
        b"idempotency-key",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"range",
        b"user-agent",
    }
)
# Hop-by-hop (RFC 9110 §7.6.1), and what the gateway's own server sets itself.
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
        REQUEST_ID_HEADER.encode(),
    }
)
# Answers up to this size are read whole and sent in one piece: fewer, larger writes.
_SMALL_ANSWER = 256 * 1024
_SMALL_BODY = 64 * 1024


class BodyTooLarge(Exception):
    """The client's body passed the route's limit."""


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


class ClientBody:
    """The client's request body as a stream, counted against the route's limit."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.received = 0
        self.complete = False

    async def stream(self) -> AsyncIterator[bytes]:
        while not self.complete:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            self.received += len(chunk)
            if self.received > self.limit:
                raise BodyTooLarge
            self.complete = not message.get("more_body", False)
            if chunk:
                yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.stream()])


def request_framing(scope: Scope) -> tuple[bool, int | None]:
    """Whether the request has a body, and its declared length if it has one."""
    has_body = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            return True, int(value)
        if name == b"transfer-encoding":
            has_body = True
    return has_body, None


def forwarded_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [
        (name, value) for name, value in scope["headers"] if name in FORWARDED_REQUEST_HEADERS
    ]
    if request_id := current_request_id():
        headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", client[0].encode()))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    return headers


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    upstream: Upstream,
    has_body: bool,
    length: int | None,
    body_limit: int,
    timeout_seconds: float,
    extra_headers: list[tuple[bytes, bytes]],
) -> None:
    """Send the call to the service and its answer back to the client."""
    method: str = scope["method"]
    # Some ASGI clients put the query into raw_path too; a raw path never holds a "?".
    target: bytes = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    client_body = ClientBody(receive, body_limit)
    body: Body = None
    try:
        if has_body and length is not None and length <= _SMALL_BODY:
            # Small bodies are read first: the call can then be retried if it is idempotent.
            body = await client_body.read()
        elif has_body:
            body = client_body.stream()
        response = await upstream.call(
            method,
            target,
            forwarded_headers(scope),
            body,
            timeout_seconds=timeout_seconds,
            content_length=length,
        )
    except BodyTooLarge:
        await too_large(scope, send, body_limit, extra_headers)
        return
    except ClientGone:
        return
    except CircuitOpen as exc:
        await send_problem(
            scope,
            send,
            status=503,
            slug="upstream-unavailable",
            title="A service this request depends on is unavailable",
            detail=f"The {upstream.name} service is failing; calls to it are paused briefly.",
            headers=[(b"retry-after", b"%d" % math.ceil(exc.retry_after)), *extra_headers],
            upstream=upstream.name,
            circuit="open",
        )
        return
    except UpstreamTimeout:
        await _upstream_timeout(scope, send, upstream, extra_headers)
        return
    except ConnectFailed as exc:
        await _unavailable(scope, send, upstream, str(exc), extra_headers)
        return
    except ConnectionBroken as exc:
        await _broken(scope, send, upstream, str(exc), extra_headers)
        return
    # Once the client's body is read, its next message can only say it went away.
    watch = not has_body or client_body.complete
    await _relay(scope, receive, send, upstream, response, timeout_seconds, extra_headers, watch)


async def _relay(
    scope: Scope,
    receive: Receive,
    send: Send,
    upstream: Upstream,
    response: Response,
    timeout_seconds: float,
    extra_headers: list[tuple[bytes, bytes]],
    watch: bool,
) -> None:
    headers = [pair for pair in response.headers if pair[0] not in DROPPED_RESPONSE_HEADERS]
    headers.extend(extra_headers)
    declared = response.header(b"content-length")
    try:
        if declared is not None and int(declared) <= _SMALL_ANSWER:
            try:
                payload = await response.read(timeout_seconds)
            except UpstreamTimeout:
                await _upstream_timeout(scope, send, upstream, extra_headers)
                return
            except UpstreamFailure as exc:
                # Nothing is out yet: the client gets a problem, not a dropped connection.
                await _broken(scope, send, upstream, str(exc), extra_headers)
                return
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await _stream(receive, send, response, timeout_seconds, watch=watch)
    except UpstreamFailure as exc:
        # Status and headers may be out already: the client must see a broken answer,
        # never a complete-looking truncated one, so the connection is dropped.
        log.warning("service failed during its answer", extra={"error": str(exc)})
        raise
    finally:
        response.close()


async def _stream(
    receive: Receive, send: Send, response: Response, timeout_seconds: float, *, watch: bool
) -> None:
    """Chunks to the client as they come; stops pulling if the client goes away."""
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(receive, gone)) if watch else None
    try:
        async for chunk in response.chunks(timeout_seconds):
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if watcher is not None:
            watcher.cancel()


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def too_large(
    scope: Scope, send: Send, limit: int, extra_headers: list[tuple[bytes, bytes]]
) -> None:
    """413, with the connection closed: the rest of the body is not worth reading."""
    await send_problem(
        scope,
        send,
        status=413,
        slug="body-too-large",
        title="The request body is too large",
        detail=f"This route takes bodies of at most {limit} bytes.",
        headers=[(b"connection", b"close"), *extra_headers],
        limit=limit,
    )


async def _broken(
    scope: Scope,
    send: Send,
    upstream: Upstream,
    reason: str,
    extra_headers: list[tuple[bytes, bytes]],
) -> None:
    await send_problem(
        scope,
        send,
        status=502,
        slug="upstream-failed",
        title="A service this request depends on failed",
        detail=f"The connection to the {upstream.name} service broke ({reason}); the request "
        "may or may not have taken effect, so retry writes only with an Idempotency-Key.",
        headers=extra_headers,
        upstream=upstream.name,
    )


async def _upstream_timeout(
    scope: Scope, send: Send, upstream: Upstream, extra_headers: list[tuple[bytes, bytes]]
) -> None:
    await send_problem(
        scope,
        send,
        status=504,
        slug="upstream-timeout",
        title="A service this request depends on did not answer in time",
        detail=f"The {upstream.name} service did not answer in time; it may still complete "
        "the request, so retry writes only with an Idempotency-Key.",
        headers=extra_headers,
        upstream=upstream.name,
    )


async def _unavailable(
    scope: Scope,
    send: Send,
    upstream: Upstream,
    reason: str,
    extra_headers: list[tuple[bytes, bytes]],
) -> None:
    await send_problem(
        scope,
        send,
        status=503,
        slug="upstream-unavailable",
        title="A service this request depends on is unavailable",
        detail=f"The {upstream.name} service cannot be reached ({reason}).",
        headers=[(b"retry-after", b"1"), *extra_headers],
        upstream=upstream.name,
    )
