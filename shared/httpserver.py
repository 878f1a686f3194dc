"""uvicorn's HTTP protocol with a bound on a request's head (request line and headers): its size and
the time it may take to arrive.

uvicorn's httptools protocol has neither: 200 MB of header bytes on one connection grew a process by
200 MB (measured), and a head sent a byte now and then held its connection for good (uvicorn's
keep-alive timer stops at the first byte of a request). Its h11 protocol bounds the size only
(`h11_max_incomplete_event_size`), and costs more CPU per request. A head over `max_head_bytes` is
answered 431, one that takes longer than `head_timeout` 408, both in the shared error shape, and the
connection is closed. The body is the HTTP edge's business (`shared/edge.py`).

It also offers a long-lived response (the popup stream) a way to hear of its client's disconnect
without a task of its own waiting on `receive()`: the scope's `extensions[ON_DISCONNECT]` takes one
callback, called when the connection is lost (`None` unsets it). And `extensions[WRITE_BODY]` writes
one more chunk of that response's body at once, outside `send`, when that needs no wait: the response
is under way and chunked, the connection is open and its write buffer below the high-water mark
(flow control: otherwise it writes nothing and answers `False`, and the caller goes through `send`,
which waits). The popup fan-out writes an event to every idle stream this way, with no task step
per stream.

And it closes a connection whose request is still arriving the way HTTP servers do (a "lingering
close"). The edge answers a too-large or unauthorised upload before reading its body and closes;
closing a socket with unread bytes in its receive queue makes the kernel send a reset, which destroys
the answer if it arrives before the peer has read it (through the gateway that was a 502 with no body
instead of the 413). Such a close sends the answer and a FIN, discards what still comes, up to
`LINGER_BYTES` (then it stops reading, and a sender that goes on is held by TCP's window), and closes
when the peer does or `LINGER_SECONDS` have passed. Only a close with the request part-way in
lingers: a request cycle writes to the socket's own transport, but while its request's body is still
arriving it holds one whose `close()` lingers (`_CycleTransport`); the head refusals above and
uvicorn's answer to a malformed request linger too. Every other close, and every write (the popup
fan-out's included), goes to the socket's own transport.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.errors import error_body

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT = 15.0
ON_DISCONNECT = "helpdesk.on_disconnect"
WRITE_BODY = "helpdesk.write_body"
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._on_disconnect: Callable[[], None] | None = None
        self._lost = False
        self._lingering = False
        self._linger_left = LINGER_BYTES
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingering_close: _CycleTransport  # set with the transport, in `connection_made`
        self._own_socket: _CycleTransport  # the same, writing to the socket's own transport
        self._head_of: object | None = None  # the request cycle whose response head was written
        self._held_head: bytes | None = None  # that head, held until its body's first bytes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        socket = cast(asyncio.Transport, transport)
        self._lingering_close = _CycleTransport(socket, self, lingers=True)
        self._own_socket = _CycleTransport(socket, self, lingers=False)
        super().connection_made(socket)

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # discarded: the answer has gone
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self.transport.pause_reading()
            return
        if not self._in_head:
            super().data_received(data)
            return
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)
        self._head_bytes += len(data)
        super().data_received(data)  # httptools keeps at most this one chunk past the bound
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "request_header_fields_too_large", "the request's headers are too large")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        self._on_disconnect = None  # a callback is the request's: the next one starts without
        extensions = self.scope.setdefault("extensions", {})
        extensions[ON_DISCONNECT] = self._set_on_disconnect  # type: ignore[assignment]
        # Bound to this request's scope: a request pipelined behind it has a cycle of its own.
        extensions[WRITE_BODY] = functools.partial(self._write_body, self.scope)  # type: ignore[assignment]
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            cycle.transport = self._lingering_close  # until its body is in (`on_message_complete`)

    def _cycle_write(self, socket: asyncio.Transport, data: bytes | bytearray | memoryview[int]) -> None:
        """A request cycle's write. Its response head, when a `content-length` body follows, is held
        and goes out with the body's first bytes: one write to the socket for an answer, not two (a
        second `send`, and on a busy process a second wait to take the GIL back after it)."""
        held, self._held_head = self._held_head, None
        cycle = self.cycle
        if (
            held is None
            and cycle is not None
            and cycle.response_started  # the head is written right after this is set
            and self._head_of is not cycle
        ):
            self._head_of = cycle
            # Not a HEAD request's: no body write follows it.
            if (
                cycle.chunked_encoding is False
                and cycle.expected_content_length > 0
                and cycle.scope["method"] != "HEAD"
            ):
                self._held_head = bytes(data)
                return
        socket.write(data if held is None else held + data)

    def _set_on_disconnect(self, callback: Callable[[], None] | None) -> None:
        if callback is not None and self._lost:
            callback()  # gone before the response asked: it hears of it now
            return
        self._on_disconnect = callback

    def _write_body(self, scope: object, body: bytes) -> bool:
        """`body` written now as the next chunk of `scope`'s response, or `False` when it would have to
        wait (write buffer full) or cannot go (not its response, not chunked, not under way, gone)."""
        cycle = self.cycle
        if (
            cycle is None
            or cycle.scope is not scope
            or not cycle.response_started
            or cycle.response_complete
            or not cycle.chunked_encoding
            or cycle.disconnected
            or self._lost
            or self._lingering
            or self.flow.write_paused
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
        return True

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle is not None:
            self.cycle.transport = self._own_socket  # nothing of its request left unread
        self._in_head = True  # the next request on this connection starts its own head
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        self._head_of = None
        if self._lingering:
            return  # nothing more is read or answered on this connection
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a malformed request, whose close lingers: more of it may be coming."""
        socket = self.transport
        self.transport = _CycleTransport(socket, self, lingers=True, holds_head=False)
        try:
            super().send_400_response(msg)
        finally:
            self.transport = socket

    @property
    def lingering(self) -> bool:
        """Whether the connection is in its lingering close (answered; reading what still comes)."""
        return self._lingering

    def close_or_linger(self) -> None:
        """Close now, or linger when a request is part-way in (see the module docstring)."""
        socket = self.transport
        between_requests = self._in_head and not self._head_bytes
        if (
            self._lingering
            or between_requests
            or socket.is_closing()
            or socket.get_protocol() is not self
            or not socket.can_write_eof()
        ):
            socket.close()
            return
        self._cancel_head_timer()
        self._lingering = True
        socket.write_eof()  # sent once the answer is out
        socket.resume_reading()  # the body may have paused reading: what comes now is discarded
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, socket.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        self._cancel_head_timer()
        self._lost = True
        super().connection_lost(exc)
        callback, self._on_disconnect = self._on_disconnect, None
        if callback is not None:
            callback()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and self._head_bytes:
            self._refuse(408, "request_timeout", "the request's headers did not arrive in time")

    def _refuse(self, status: int, code: str, message: str) -> None:
        if self._lingering or self.transport.is_closing():
            return
        self._cancel_head_timer()
        body = json.dumps(error_body(code=code, message=message)).encode()
        reason = b"Request Header Fields Too Large" if status == 431 else b"Request Timeout"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.close_or_linger()


class _CycleTransport(asyncio.Transport):
    """What a request cycle (or uvicorn's 400) holds: writes go to the socket's own transport, a
    response's head held until its body (`BoundedHttpToolsProtocol._cycle_write`; not for uvicorn's
    400, written with no cycle of its own). With `lingers`
    (its request part-way in): a lingering close for `close()` (a second close ends a linger at
    once), and `is_closing()` true from then on. Nothing else of a transport is asked of it."""

    __slots__ = ("_holds_head", "_lingers", "_protocol", "_socket")

    def __init__(
        self,
        socket: asyncio.Transport,
        protocol: BoundedHttpToolsProtocol,
        *,
        lingers: bool,
        holds_head: bool = True,
    ) -> None:
        super().__init__()
        self._socket = socket
        self._protocol = protocol
        self._lingers = lingers
        self._holds_head = holds_head

    def write(self, data: bytes | bytearray | memoryview[int]) -> None:
        if self._holds_head:
            self._protocol._cycle_write(self._socket, data)
        else:
            self._socket.write(data)

    def close(self) -> None:
        if self._lingers:
            self._protocol.close_or_linger()
        else:
            self._socket.close()

    def is_closing(self) -> bool:
        return (self._lingers and self._protocol.lingering) or self._socket.is_closing()


def bounded_http_protocol(*, head_timeout: float = HEAD_TIMEOUT) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)` with this head timeout."""
    return type("HttpProtocol", (BoundedHttpToolsProtocol,), {"head_timeout": head_timeout})
