"""A lean HTTP/1.1 client for the proxy's hot path, on asyncio and httptools.

Pooled keep-alive connections to one service; responses parsed by httptools, the C parser
uvicorn itself serves with; bodies streamed both ways with flow control, so neither an
import nor an export is ever held whole in memory. It does what a proxy to services on
an internal network needs and nothing more: no TLS, redirects, cookies or decompression.
Chosen over httpx and aiohttp by measurement (bench/gateway_proxy.py, docs/gateway.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import httptools

# Pause reading from a service while this much of its answer waits for a slow client.
_HIGH_WATER = 512 * 1024
_LOW_WATER = 128 * 1024

Body = bytes | AsyncIterator[bytes] | None
_SAFE_TO_RESEND = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_T = TypeVar("_T")


class UpstreamFailure(Exception):
    """The exchange with a service failed below HTTP: no usable answer arrived."""


class ConnectFailed(UpstreamFailure):
    """No connection could be made: the request never reached the service."""


class ConnectionBroken(UpstreamFailure):
    """The connection failed or carried an invalid answer after the request was sent."""


class StaleConnection(ConnectionBroken):
    """A kept-alive connection turned out closed before any answer came: the service
    closed it while idle, so it never saw the request."""


class UpstreamTimeout(UpstreamFailure):
    """The service stayed silent for longer than the call allows."""


class Response:
    """A service's answer: status and headers at once, the body read or streamed after.

    `close()` must follow (the proxy calls it in a `finally`): it returns the connection
    to the pool when the answer was read whole, and discards it otherwise.
    """

    __slots__ = ("_connection", "_on_close", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        connection: _Connection,
        on_close: Callable[[_Connection], None],
    ) -> None:
        self.status = status
        self.headers = headers  # names in lower case, in the order received
        self._connection: _Connection | None = connection
        self._on_close = on_close

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read(self, timeout_seconds: float) -> bytes:
        connection = self._connection
        if connection is None:
            return b""
        parts = []
        while (chunk := await connection.next_chunk(timeout_seconds)) is not None:
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self, timeout_seconds: float) -> AsyncIterator[bytes]:
        """The body as it arrives; `timeout_seconds` bounds the silence between two pieces."""
        connection = self._connection
        if connection is None:
            return
        while True:
            chunk = await connection.next_chunk(timeout_seconds)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._on_close(connection)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; it carries one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reusable = True
        self.idle_since = 0.0
        self.exchanges = 0
        self._reset()

    def _reset(self) -> None:
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_future: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: BaseException | None = None
        self._body_waiter: asyncio.Future[None] | None = None
        self._informational = False
        self._head_request = False
        self._until_close = False
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._answered = False
        self.body_error: BaseException | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.reusable = False
        if self._until_close and exc is None:
            # An answer without length or chunks ends where the connection does.
            self._complete = True
            self._wake_body()
        elif not self._complete:
            self._fail(ConnectionBroken("the service closed the connection"))
        self._wake_drain()

    def data_received(self, data: bytes) -> None:
        self._answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionBroken(f"invalid answer from the service: {exc}"))
            self.abort()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            # 1xx answers (e.g. 103 Early Hints) precede the real one.
            self._informational = True
            return
        if not self.parser.should_keep_alive():
            self.reusable = False
        names = {name for name, _ in self._headers}
        self._until_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in (204, 304)
            and not self._head_request
        )
        future = self._head_future
        if future is not None and not future.done():
            future.set_result((status, self._headers))
        if self._head_request:
            # The parser would wait for a body that a HEAD answer never has.
            self._complete = True
            self.reusable = False

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_body()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self._complete = True
        self._wake_body()

    # the exchange

    async def exchange(
        self, head: bytes, body: Body, timeout_seconds: float, *, chunked: bool, head_request: bool
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        transport = self.transport
        if transport is None:
            raise ConnectionBroken("the connection is closed")
        self._head_future = self.loop.create_future()
        self._head_request = head_request
        if isinstance(body, bytes):
            transport.write(head + body if body else head)
        else:
            transport.write(head)
            if body is not None:
                self._writer = self.loop.create_task(self._send_body(body, chunked))
        try:
            return await self._wait(self._head_future, timeout_seconds)
        except ConnectionBroken as exc:
            if self.body_error is not None:
                raise self.body_error from None
            if self.exchanges and not self._answered:
                raise StaleConnection(str(exc)) from exc
            raise
        except UpstreamFailure:
            if self.body_error is not None:
                raise self.body_error from None
            raise

    async def _send_body(self, body: AsyncIterator[bytes], chunked: bool) -> None:
        try:
            async for chunk in body:
                if not chunk:
                    continue
                if self.transport is None:
                    return
                if chunked:
                    self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                else:
                    self.transport.write(chunk)
                if self._write_paused:
                    await self._drain()
            if chunked and self.transport is not None:
                self.transport.write(b"0\r\n\r\n")
        except Exception as exc:
            # The client's body failed (too large, or the client went away): the service
            # must not take a truncated body for a whole one.
            self.body_error = exc
            self.reusable = False
            self.abort()

    async def _drain(self) -> None:
        if self.transport is None:
            return
        self._drain_waiter = self.loop.create_future()
        await self._drain_waiter

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_chunk(self, timeout_seconds: float) -> bytes | None:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered < _LOW_WATER and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self._complete:
                return None
            if self._error is not None:
                raise self._error
            self._body_waiter = self.loop.create_future()
            await self._wait(self._body_waiter, timeout_seconds)

    async def _wait(self, future: asyncio.Future[_T], timeout_seconds: float) -> _T:
        timer = self.loop.call_later(timeout_seconds, self._time_out, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _time_out(self, future: asyncio.Future[Any]) -> None:
        if not future.done():
            future.set_exception(UpstreamTimeout("no answer within the time allowed"))
        self.reusable = False
        self.abort()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        future = self._head_future
        if future is not None and not future.done():
            future.set_exception(error)
        self._wake_body()

    def _wake_body(self) -> None:
        waiter, self._body_waiter = self._body_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def finished_cleanly(self) -> bool:
        """The answer was read whole and the connection can carry another exchange."""
        writer_done = self._writer is None or self._writer.done()
        return (
            self._complete
            and self.reusable
            and writer_done
            and self.body_error is None
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def recycle(self) -> None:
        self.exchanges += 1
        self._reset()
        self.idle_since = time.monotonic()

    def abort(self) -> None:
        self.reusable = False
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        if self.transport is not None:
            self.transport.abort()
            self.transport = None


class ConnectionPool:
    """Keep-alive connections to one service, at most `max_connections` open at once."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        keepalive_seconds: float = 4.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{base_url!r}: services are reached over plain http://host:port")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = parts.netloc.encode()
        self.connect_timeout = connect_timeout
        # Below the services' own keep-alive (uvicorn: 5 s), so a connection is never
        # reused just as the service closes it.
        self.keepalive_seconds = keepalive_seconds
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None

    async def request(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Body,
        *,
        timeout_seconds: float,
        content_length: int | None = None,
    ) -> Response:
        """Send a request; `target` is the raw path and query. The body is bytes, a stream
        (sent with `content_length`, else chunked) or None."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        await self._slots.acquire()
        lines = [b"%b %b HTTP/1.1\r\nhost: %b\r\n" % (method.encode(), target, self.host_header)]
        lines.extend(b"%b: %b\r\n" % pair for pair in headers)
        chunked = False
        if isinstance(body, bytes):
            if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                lines.append(b"content-length: %d\r\n" % len(body))
        elif body is not None:
            if content_length is None:
                chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                lines.append(b"content-length: %d\r\n" % content_length)
        lines.append(b"\r\n")
        head = b"".join(lines)
        # A request on a connection the service had closed while idle never reached it: it
        # goes again on a new connection, if sending it twice could do no harm anyway.
        resendable = body is None or isinstance(body, bytes)
        while True:
            try:
                connection = self._take_idle() or await self._connect()
            except BaseException:
                self._slots.release()
                raise
            try:
                status, response_headers = await connection.exchange(
                    head, body, timeout_seconds, chunked=chunked, head_request=method == "HEAD"
                )
            except StaleConnection:
                connection.abort()
                if resendable and (method in _SAFE_TO_RESEND or _has_idempotency_key(headers)):
                    continue
                self._slots.release()
                raise
            except BaseException:
                connection.abort()
                self._slots.release()
                raise
            return Response(status, response_headers, connection, self._release)

    def _take_idle(self) -> _Connection | None:
        deadline = time.monotonic() - self.keepalive_seconds
        while self._idle:
            connection = self._idle.pop()
            transport = connection.transport
            alive = transport is not None and not transport.is_closing()
            if alive and connection.idle_since >= deadline:
                return connection
            connection.abort()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop), self.host, self.port
                )
        except TimeoutError as exc:
            raise ConnectFailed(f"no connection within {self.connect_timeout} s") from exc
        except OSError as exc:
            raise ConnectFailed(f"connection failed: {exc.strerror or exc}") from exc
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.finished_cleanly():
            connection.recycle()
            self._idle.append(connection)
        else:
            connection.abort()
        if self._slots is not None:
            self._slots.release()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().abort()


def _has_idempotency_key(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"idempotency-key" for name, _ in headers)
