"""A stand-in service for the proxy tests, run as its own process: `python stub_upstream.py PORT`.

It streams slowly, records how a body arrives, echoes the headers it was sent and can
stay silent, so tests can watch what the gateway does in between.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import uvicorn
from starlette.types import Receive, Scope, Send

EXPORT_LINES = 5
EXPORT_PAUSE_SECONDS = 0.5
BIG_CHUNK = b"x" * (1024 * 1024)
calls: dict[str, int] = {}


async def _json(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-stub", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/ready":
        await _json(send, 200, {"status": "ready"})
    elif path == "/v1/customers/export":
        # NDJSON, one line every EXPORT_PAUSE_SECONDS: a client sees lines as they come
        # only if nothing between buffers them.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson")],
            }
        )
        for line in range(EXPORT_LINES):
            payload = json.dumps({"line": line, "sent_at": time.time()}).encode() + b"\n"
            await send({"type": "http.response.body", "body": payload, "more_body": True})
            await asyncio.sleep(EXPORT_PAUSE_SECONDS)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/v1/customers/big-export":
        megabytes = int(scope["query_string"].decode().removeprefix("mb=") or "1")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        for _ in range(megabytes):
            await send({"type": "http.response.body", "body": BIG_CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/v1/customers/import":
        first_chunk_at = None
        received = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk and first_chunk_at is None:
                first_chunk_at = time.time()
            received += len(chunk)
            if not message.get("more_body", False):
                break
        await _json(
            send,
            200,
            {"first_chunk_at": first_chunk_at, "finished_at": time.time(), "bytes": received},
        )
    elif path == "/v1/tickets/flaky":
        # Fails `fail` times per `key`, then answers: to watch retries from outside.
        query = dict(pair.split("=") for pair in scope["query_string"].decode().split("&"))
        count = calls[query["key"]] = calls.get(query["key"], 0) + 1
        while (await receive()).get("more_body", False):
            pass
        status = 503 if count <= int(query["fail"]) else 200
        await _json(send, status, {"calls": count, "method": scope["method"]})
    elif path == "/v1/customers/cut-short":
        # Dies after the head and part of a small body, as a killed process does.
        head = [(b"content-type", b"application/json"), (b"content-length", b"100")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b'{"partial', "more_body": True})
        raise RuntimeError("the service died in the middle of its answer")
    elif path == "/v1/customers/silent":
        await asyncio.sleep(30)
        await _json(send, 200, {"late": True})
    elif path.startswith("/v1/tags"):
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode(), []).append(value.decode())
        await _json(
            send, 200, {"path": path, "query": scope["query_string"].decode(), "headers": headers}
        )
    else:
        await _json(send, 404, {"detail": "not here"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
