"""The open popup stream held outside FastAPI (`stream.StreamBranch`) and written to by the hub: the
request is checked by the whole app as before, refusals keep the one error shape and hold nothing,
and a tab that stops reading is dropped without holding up the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest

from notifications.adapters.fanout import Change, Hub
from notifications.components import Components
from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import Running, open_sse, running
from tests.support.wait import WAIT, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STREAM = "/api/v1/popups/stream"


def hub_of(svc: Running) -> Hub:
    parts = svc.app.state.components
    assert isinstance(parts, Components)
    return parts.hub


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


async def test_refused_streams_answer_in_the_one_error_shape_and_hold_no_stream_or_slot(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    limits = sqlite_settings.common.rate_limits.model_copy(update={"streams_per_user": 1})
    common = sqlite_settings.common.model_copy(update={"rate_limits": limits})
    settings = sqlite_settings.model_copy(update={"common": common})
    me = make_token(sub="u1")
    async with running(settings) as svc, httpx.AsyncClient(base_url=svc.base_url, timeout=WAIT) as http:
        error = refusal(await http.get(STREAM), 401, "unauthorized")
        assert "token" in error["message"]
        agent = {"Authorization": f"Bearer {make_token(role='agent', account=None)}"}
        refusal(await http.get(STREAM, headers=agent), 403, "forbidden")
        bad_id = {"Authorization": f"Bearer {me}", "Last-Event-ID": "not-a-position"}
        error = refusal(await http.get(STREAM, headers=bad_id), 422, "validation_error")
        assert error["details"][0]["loc"] == ["header", "Last-Event-ID"]
        assert hub_of(svc).streams() == []

        # None of those took the user's one slot: their first stream opens, a second is refused.
        tab = await open_sse(svc.base_url, me)
        try:
            refused = refusal(
                await http.get(STREAM, headers={"Authorization": f"Bearer {me}"}), 429, "rate_limited"
            )
            assert refused["message"]
            assert len(hub_of(svc).streams()) == 1
        finally:
            await tab.close()
        await eventually(lambda: hub_of(svc).streams() == [], what="the closed tab left the hub")


async def test_an_open_stream_gets_its_popups_written_by_the_hub_in_order_with_heartbeats(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    me, agent = make_token(sub="u1"), make_token(role="agent", account=None)
    async with running(sqlite_settings) as svc, svc.client(agent) as ag:
        tabs = [await open_sse(svc.base_url, me) for _ in range(3)]
        try:
            streams = hub_of(svc).streams()
            await eventually(
                lambda: all(s.write is not None and s.queue.parked() for s in streams),
                what="every stream idle and written to directly",
            )
            sent = []
            for text in ("one", "two", "three"):
                body = {"account_id": "hotel-a", "text": text}
                sent.append((await ag.post("/api/v1/messages", json=body)).json()["popup_id"])
            for tab in tabs:
                raised = [await tab.next("popup.raised") for _ in sent]
                assert [e.data["data"]["popup"]["popup_id"] for e in raised] == sent
                assert [int(e.id) for e in raised] == sorted(int(e.id) for e in raised)
            async with httpx.AsyncClient(base_url=svc.base_url, timeout=WAIT) as http:
                headers = {"Authorization": f"Bearer {me}"}
                async with http.stream("GET", STREAM, headers=headers) as response:
                    assert response.headers["x-request-id"]
                    assert response.headers["cache-control"] == "no-store"
                    async for line in response.aiter_lines():
                        if line.startswith(":"):
                            break  # a heartbeat, once it idled
        finally:
            for tab in tabs:
                await tab.close()


@contextlib.asynccontextmanager
async def stalled_tab(base_url: str, token: str) -> AsyncIterator[None]:
    """A tab that opens the stream, reads up to `ready`, then reads nothing more (a tiny receive
    buffer, so the server's write buffer fills soon)."""
    url = urlsplit(base_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, (url.hostname, url.port))
        request = f"GET {STREAM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        await loop.sock_sendall(sock, request.encode())
        received = b""
        async with asyncio.timeout(WAIT):
            while b"event: ready" not in received:
                received += await loop.sock_recv(sock, 4096)
        yield
    finally:
        sock.close()


def big_change(position: int, *, size: int) -> Change:
    envelope = {"type": "popup.raised", "data": {"popup": {"popup_id": str(position), "text": "x" * size}}}
    fake = SimpleNamespace(
        account_id="hotel-a",
        type="popup.raised",
        data=SimpleNamespace(addressed_to=None),
        model_dump_json=lambda: json.dumps(envelope),
    )
    return Change(position, cast(Any, fake))


async def test_a_tab_that_stops_reading_is_dropped_and_never_holds_up_the_others(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    settings = sqlite_settings.model_copy(update={"sse_queue_size": 4})
    async with running(settings) as svc:
        hub = hub_of(svc)
        reader = await open_sse(svc.base_url, make_token(sub="u1"))
        try:
            async with stalled_tab(svc.base_url, make_token(sub="u2")):
                stalled = next(s for s in hub.streams() if s.user_id == "u2")
                position = 10_000
                while stalled in hub.streams():  # its buffers fill, then its queue: it is dropped
                    position += 1
                    assert position < 10_400, "the stalled tab was never dropped"
                    hub.publish_locally(big_change(position, size=64 * 1024))
                    got = await reader.next("popup.raised")  # every one, at once, to the reader
                    assert got.data["data"]["popup"]["popup_id"] == str(position)
                assert stalled.write is None
                hub.publish_locally(big_change(position + 1, size=10))
                got = await reader.next("popup.raised")
                assert got.data["data"]["popup"]["popup_id"] == str(position + 1)
                assert [s.user_id for s in hub.streams()] == ["u1"]
        finally:
            await reader.close()
