"""Through the one origin: `helpdesk up`'s Caddy in front of the four services, as a browser uses it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from helpdesk.gateway import CONTENT_SECURITY_POLICY, DOCS_SERVICES
from tests.support.helpdesk_system import HelpdeskSystem

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ACCOUNT = "demo-hotel"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def gateway(helpdesk_system: HelpdeskSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=helpdesk_system.url, timeout=10) as client:
        yield client


async def test_the_gateway_answers_its_own_health_check(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")
    assert response.status_code == 200
    assert response.headers["server"] == "Caddy"


async def test_each_http_service_answers_through_the_gateway_with_a_development_token(
    helpdesk_system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    user = bearer(helpdesk_system.token(role="user", sub=f"gw-{uuid.uuid4().hex[:8]}", account=ACCOUNT))
    created = await gateway.post(
        "/api/v1/tickets",
        data={
            "topic": "other",
            "comment": "Gateway",
            "message": "Filed through the gateway",
            "importance": "normal",
        },
        headers=user,
    )
    assert created.status_code in (200, 201), created.text
    listed = await gateway.get("/api/v1/tickets", headers=user)
    assert listed.status_code == 200, listed.text
    assert (await gateway.get("/api/v1/topics", headers=user)).status_code == 200
    popups = await gateway.get("/api/v1/popups", headers=user)
    assert popups.status_code == 200, popups.text
    assert "items" in popups.json()
    found = await gateway.get("/api/v1/kb/search", params={"q": "printer"}, headers=user)
    assert found.status_code == 200, found.text
    # A route nobody serves answers from the static site, not from a service.
    assert (await gateway.get("/api/v1/nothing-here")).headers.get("content-security-policy")


async def test_the_popup_stream_is_unbuffered_through_the_gateway(
    helpdesk_system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    sub = f"gw-{uuid.uuid4().hex[:8]}"
    user = helpdesk_system.token(role="user", sub=sub, account=ACCOUNT)
    agent = helpdesk_system.token(role="agent", sub="agent-gw")
    issued = await gateway.post("/api/v1/popups/stream-token", headers=bearer(user))
    assert issued.status_code == 200, issued.text
    stream_path = issued.json()["stream_path"]

    events: asyncio.Queue[tuple[str, dict[str, object], float]] = asyncio.Queue()

    async def read() -> None:
        # As a browser's EventSource opens it: no Authorization header, the stream token in the URL.
        timeout = httpx.Timeout(10, read=None)
        async with httpx.AsyncClient(base_url=helpdesk_system.url, timeout=timeout) as client:
            async with client.stream("GET", stream_path, headers={"Accept": "text/event-stream"}) as response:
                assert response.status_code == 200
                kind = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        await events.put((kind, json.loads(line.partition(":")[2]), time.monotonic()))

    started = time.monotonic()
    reader = asyncio.create_task(read())
    try:
        async with asyncio.timeout(5):
            kind, _, at = await events.get()
        assert kind == "ready"
        assert at - started < 1.0, f"ready after {at - started:.2f}s"

        sent_at = time.monotonic()
        message = await gateway.post(
            "/api/v1/messages",
            json={"account_id": ACCOUNT, "user_id": sub, "text": "Sent through the gateway"},
            headers=bearer(agent),
        )
        assert message.status_code == 201, message.text
        async with asyncio.timeout(5):
            kind, data, at = await events.get()
        assert kind == "popup.raised"
        assert str(message.json()["popup_id"]) in json.dumps(data)
        assert at - sent_at < 1.0, f"popup after {at - sent_at:.2f}s"
    finally:
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader


async def test_a_chat_websocket_handshake_works_through_the_gateway(helpdesk_system: HelpdeskSystem) -> None:
    token = helpdesk_system.token(role="user", sub=f"gw-{uuid.uuid4().hex[:8]}", account=ACCOUNT)
    url = f"{helpdesk_system.ws_url}/api/v1/chat/user"
    async with websockets.connect(url, open_timeout=10, origin=websockets.Origin(helpdesk_system.url)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        async with asyncio.timeout(5):
            frame = json.loads(await ws.recv())
        assert frame["type"] == "ready", frame


def references(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", page) + re.findall(r"url: '([^']+)'", page)


@pytest.mark.parametrize("service", DOCS_SERVICES)
async def test_each_services_api_docs_load_from_the_gateway_with_no_external_host(
    gateway: httpx.AsyncClient, service: str
) -> None:
    page = await gateway.get(f"/docs/{service}/")
    assert page.status_code == 200, page.text
    assert "SwaggerUIBundle" in page.text
    refs = references(page.text)
    assert refs, page.text
    assert not [r for r in refs if urlsplit(r).scheme or r.startswith("//")], refs
    assert "cdn" not in page.text
    for ref in refs:
        # Resolved as the browser does, against the page's URL.
        asset = await gateway.get(httpx.URL(f"/docs/{service}/").join(ref))
        assert asset.status_code == 200, (ref, asset.status_code)
    spec = (await gateway.get(f"/docs/{service}/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    redoc = await gateway.get(f"/docs/{service}/redoc")
    assert redoc.status_code == 200
    assert not [r for r in references(redoc.text) if urlsplit(r).scheme]
    # Only the docs are under the prefix, not the rest of the service.
    assert (await gateway.get(f"/docs/{service}/metrics")).status_code == 404
    without_slash = await gateway.get(f"/docs/{service}")
    assert without_slash.status_code == 308
    assert without_slash.headers["location"] == f"/docs/{service}/"


async def test_a_services_own_docs_page_works_directly_too(helpdesk_system: HelpdeskSystem) -> None:
    async with httpx.AsyncClient(base_url=helpdesk_system.service_url("tickets"), timeout=10) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        for ref in references(page.text):
            assert not urlsplit(ref).scheme, ref
            assert (await client.get(httpx.URL("/docs").join(ref))).status_code == 200, ref


async def test_static_pages_carry_the_security_headers_and_assets_are_compressed(
    gateway: httpx.AsyncClient,
) -> None:
    home = await gateway.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert home.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert home.headers["x-content-type-options"] == "nosniff"
    assert home.headers["referrer-policy"] == "same-origin"
    scripts = re.findall(r"""<script[^>]+src=["'](/[^"']+\.js)["']""", home.text)
    if not scripts:  # the front end is not built: the page says so
        assert "not built" in home.text
        return
    asset = await gateway.get(scripts[0], headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def upload_answer(port: int, head: bytes, *, promised: int) -> tuple[int, dict[str, str], bytes]:
    """Send `head`, then stream the promised body as a browser does, and read one answer as soon as
    it comes (the rest of the body is not sent once it has)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send_body() -> None:
        chunk = b"x" * 65536
        with contextlib.suppress(ConnectionError):
            writer.write(head)
            for _ in range(promised // len(chunk)):
                writer.write(chunk)
                await writer.drain()

    sending = asyncio.create_task(send_body())
    try:
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body
    finally:
        sending.cancel()
        writer.close()


async def test_an_oversized_upload_is_refused_with_413_in_the_error_shape_through_the_gateway(
    helpdesk_system: HelpdeskSystem,
) -> None:
    token = helpdesk_system.token(role="user", sub=f"gw-{uuid.uuid4().hex[:8]}", account=ACCOUNT)
    promised = 50 * 1024 * 1024
    head = "\r\n".join(
        [
            "POST /api/v1/tickets HTTP/1.1",
            f"Host: 127.0.0.1:{helpdesk_system.port_base}",
            f"Authorization: Bearer {token}",
            "Content-Type: multipart/form-data; boundary=gatewayboundary7MA4YWxkTrZu0gW",
            f"Content-Length: {promised}",
            "",
            "",
        ]
    ).encode()
    started = time.monotonic()
    async with asyncio.timeout(10):
        status, headers, body = await upload_answer(helpdesk_system.port_base, head, promised=promised)
    # The service refused it by its Content-Length; the proxy relays its answer (not one of its own).
    assert status == 413, body
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "payload_too_large"
    assert {"code", "message", "details", "request_id"} <= set(error)
    assert time.monotonic() - started < 5
