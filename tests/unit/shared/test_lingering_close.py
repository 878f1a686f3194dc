"""A refusal sent before the request's body was read reaches the client whole.

The service answers a too-large or unauthorised upload at once and closes the connection. Closing a
socket whose receive queue still holds body bytes makes the kernel send a reset, and a reset that
arrives before the peer has read the answer destroys it: through the gateway that was a 502 with no
body instead of the 413 in the error shape (seen in CI). The server's protocol closes such a
connection the way HTTP servers do (a "lingering close"): it sends its answer and a FIN, discards
a bounded amount of what still arrives, and closes when the peer does or within a bounded time.
Only such a close lingers: every write, and any other close, goes to the socket's own transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from shared.httpserver import LINGER_BYTES, LINGER_SECONDS, BoundedHttpToolsProtocol, bounded_http_protocol
from shared.natsserver import free_port

pytestmark = pytest.mark.unit

ANSWER = b'{"error":{"code":"payload_too_large"}}'


async def refuse_at_once(scope: dict[str, object], receive: object, send: object) -> None:
    """Answers every request 413 with `connection: close`, reading none of its body (as the edge does)."""
    assert callable(send)
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(ANSWER)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    chosen = free_port()
    config = uvicorn.Config(
        refuse_at_once,
        host="127.0.0.1",
        port=chosen,
        http=bounded_http_protocol(),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield chosen
    server.should_exit = True
    await task


def upload_then_read(port: int, *, sent_first: int, pause: float) -> bytes:
    """Send a head promising 64 MiB and `sent_first` bytes of it, wait `pause` (the server answers
    and closes meanwhile, with those bytes unread), then read everything the connection gives."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024)
        )
        with contextlib.suppress(OSError):
            sock.sendall(b"x" * sent_first)
        time.sleep(pause)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


async def test_the_answer_to_an_unread_upload_arrives_whole_and_the_connection_ends_with_a_fin(
    port: int,
) -> None:
    received = await asyncio.to_thread(upload_then_read, port, sent_first=1024 * 1024, pause=0.5)
    assert received.startswith(b"HTTP/1.1 413 ")
    assert received.endswith(ANSWER)


async def test_a_client_that_keeps_sending_is_held_back_and_cut_off_within_the_linger_bound(
    port: int,
) -> None:
    sent = 0
    stopped = threading.Event()

    def keep_sending() -> None:
        nonlocal sent
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (10**12))
            with contextlib.suppress(OSError):
                while not stopped.is_set():
                    sock.sendall(b"x" * 65536)
                    sent += 65536
        stopped.set()

    started = time.monotonic()
    thread = threading.Thread(target=keep_sending, daemon=True)
    thread.start()
    await asyncio.to_thread(thread.join, 20)
    stopped.set()
    # Cut off by the server (the send failed), not by the test's own bound.
    assert not thread.is_alive()
    assert time.monotonic() - started < LINGER_SECONDS + 8
    # Discarded up to the bound, then held by TCP's window (a few socket buffers, not the flood).
    assert LINGER_BYTES <= sent < 64 * 1024 * 1024


async def test_a_client_that_closes_after_the_answer_frees_the_connection_at_once(port: int) -> None:
    def upload_read_close() -> float:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
            sock.sendall(b"x" * 100_000)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 413 ")
            sock.shutdown(socket.SHUT_WR)
            started = time.monotonic()
            while sock.recv(65536):
                pass
            return time.monotonic() - started

    # The server closes when it hears the client's FIN, not at the end of its linger.
    assert await asyncio.to_thread(upload_read_close) < LINGER_SECONDS / 2


class OwnTransport(asyncio.Transport):
    """A connection's own transport, recording what the protocol does with it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes = 0
        self.closed = False
        self.eof = False
        self.protocol: asyncio.BaseProtocol = asyncio.Protocol()

    def write(self, data: Any) -> None:
        self.written += data
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def connected(own: OwnTransport) -> BoundedHttpToolsProtocol:
    config = uvicorn.Config(refuse_at_once, http=bounded_http_protocol(), lifespan="off", log_level="warning")
    config.load()
    protocol = BoundedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    own.protocol = protocol
    protocol.connection_made(own)
    return protocol


async def answered(protocol: BoundedHttpToolsProtocol) -> None:
    while not protocol.cycle.response_complete:
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    "request_",
    [
        b"GET /api/v1/popups/stream HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    ],
    ids=["without a body", "with its whole body"],
)
async def test_a_request_read_whole_is_answered_and_closed_on_the_connections_own_transport(
    request_: bytes,
) -> None:
    own = OwnTransport()
    protocol = await connected(own)
    protocol.data_received(request_)
    await answered(protocol)
    assert own.written.endswith(ANSWER)
    assert own.writes == 1  # the head went with the body
    assert own.closed and not own.eof  # nothing left unread: closed at once
    protocol.connection_lost(None)


async def test_only_a_request_whose_body_is_still_arriving_is_closed_with_a_lingering_close() -> None:
    own = OwnTransport()
    protocol = await connected(own)
    protocol.data_received(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\nabc")
    assert protocol.cycle.transport is not own
    await answered(protocol)
    assert own.written.endswith(ANSWER)
    assert own.eof and not own.closed  # the answer and a FIN; what still comes is discarded
    protocol.data_received(b"x" * 1000)
    assert protocol.lingering and not own.closed
    protocol.connection_lost(None)
    assert own.closed


async def test_a_head_request_is_answered_with_its_head_alone() -> None:
    own = OwnTransport()
    protocol = await connected(own)
    protocol.data_received(b"HEAD /upload HTTP/1.1\r\nHost: x\r\n\r\n")
    await answered(protocol)
    assert own.written.startswith(b"HTTP/1.1 413 ") and own.written.endswith(b"\r\n\r\n")
    protocol.connection_lost(None)
