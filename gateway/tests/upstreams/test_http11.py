"""The gateway's HTTP/1.1 client against a raw TCP server that answers exactly as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from crm_gateway.upstreams.http11 import (
    ConnectFailed,
    ConnectionBroken,
    ConnectionPool,
    UpstreamTimeout,
)
from crm_shared.testing import free_port

Answer = Callable[[bytes], bytes | None]  # the request head → the raw answer (None: silence)


class RawServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                answer = self.answer(head)
                if answer is None:
                    await asyncio.sleep(10)
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def close_idle(self) -> None:
        for writer in self.writers:
            writer.close()


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[tuple[RawServer, ConnectionPool]]:
    server = RawServer(answer)
    port = free_port()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", port)
    pool = ConnectionPool(f"http://127.0.0.1:{port}", max_connections=4, connect_timeout=1)
    try:
        yield server, pool
    finally:
        pool.close()
        listening.close()
        server.close_idle()


def fixed(answer: bytes) -> Answer:
    return lambda _head: answer


async def get(pool: ConnectionPool, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    response = await pool.request(
        method, b"/v1/x?a=1", [(b"accept", b"*/*")], None, timeout_seconds=1
    )
    try:
        return response.status, dict(response.headers), await response.read(1)
    finally:
        response.close()


async def test_connections_are_kept_alive_and_reused() -> None:
    async with raw_server(fixed(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")) as (
        server,
        pool,
    ):
        for _ in range(3):
            assert await get(pool) == (200, {b"content-length": b"2"}, b"ok")
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /v1/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"accept: */*\r\n" in server.requests[0]


async def test_chunked_and_connection_delimited_answers_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    async with raw_server(fixed(chunked)) as (_, pool):
        status, headers, body = await get(pool)
    assert (status, body) == (200, b"abcdefg")
    assert headers[b"transfer-encoding"] == b"chunked"

    until_close = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it"
    async with raw_server(fixed(until_close)) as (_, pool):
        assert (await get(pool))[2] == b"all of it"


async def test_a_head_answer_has_no_body_and_the_next_call_works() -> None:
    def answer(head: bytes) -> bytes:
        if head.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"

    async with raw_server(answer) as (_, pool):
        assert (await get(pool, "HEAD"))[2] == b""
        assert (await get(pool))[2] == b"hello"


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async with raw_server(fixed(b"HTTP/1.1 204 No Content\r\n\r\n")) as (server, pool):
        assert (await get(pool))[0] == 204
        server.close_idle()  # no await in between: the client has not seen the close yet
        assert (await get(pool))[0] == 204
    assert server.connections == 2


async def test_silence_is_a_timeout_and_garbage_a_broken_connection() -> None:
    async with raw_server(lambda _head: None) as (_, pool):
        with pytest.raises(UpstreamTimeout):
            await get(pool)
    async with raw_server(fixed(b"not http at all\r\n\r\n")) as (_, pool):
        with pytest.raises(ConnectionBroken):
            await get(pool)


async def test_no_listener_is_a_connect_failure() -> None:
    pool = ConnectionPool(f"http://127.0.0.1:{free_port()}", max_connections=1, connect_timeout=1)
    with pytest.raises(ConnectFailed):
        await get(pool)
    with pytest.raises(ConnectFailed):
        await get(pool)  # the slot was given back: the pool is not exhausted


async def test_a_streamed_body_is_sent_chunked() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        seen.append(await reader.readuntil(b"0\r\n\r\n"))
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    port = free_port()
    listening = await asyncio.start_server(handle, "127.0.0.1", port)
    pool = ConnectionPool(f"http://127.0.0.1:{port}", max_connections=1, connect_timeout=1)

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b""
        yield b"defgh"

    try:
        response = await pool.request("POST", b"/v1/y", [], body(), timeout_seconds=1)
        response.close()
    finally:
        pool.close()
        listening.close()
    assert response.status == 201
    assert b"transfer-encoding: chunked\r\n" in seen[0]
    assert seen[1] == b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"
