"""What the fuzz suites share: each service under uvicorn in the test's event loop, the roles' headers,
and the check every answer must pass (no 5xx; every 4xx in the one shared error shape)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from shared.natsserver import free_port
from shared.settings import CommonSettings
from tests.e2e.kb_search.test_kb_search_api import ARTICLE, ARTICLE_ID

WAIT = 20.0  # every wait of these suites is bounded by this many seconds

# service name → (package, settings overrides that keep the fuzzing cheap and the limits small)
PACKAGES: dict[str, tuple[str, dict[str, Any]]] = {
    "tickets": (
        "tickets",
        {"max_file_bytes": 64 * 1024, "max_form_overhead_bytes": 64 * 1024},
    ),
    "notifications": ("notifications", {"relay_poll_seconds": 0.2, "due_scan_seconds": 0.5}),
    "chat": ("chat", {}),
    "kb-search": ("kb_search", {}),
}


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test runner owns the signals
        yield


@dataclass
class Running:
    name: str
    app: FastAPI
    url: str
    port: int


@contextlib.asynccontextmanager
async def running_service(name: str, common: CommonSettings) -> AsyncIterator[Running]:
    """`name` migrated and served on a free loopback port until the block ends."""
    package, overrides = PACKAGES[name]
    bootstrap = importlib.import_module(f"{package}.bootstrap")
    settings = bootstrap.load_settings(common=common, **overrides)
    await bootstrap.migrate(settings)
    app: FastAPI = bootstrap.create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                if task.done():
                    task.result()
                    raise AssertionError(f"{name} stopped before it started")
                await asyncio.sleep(0.02)
        yield Running(name=name, app=app, url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=WAIT)


def error_shape_problems(status: int, body: bytes, content_type: str) -> list[str]:
    """Why an answer breaks the contract ([] when it keeps it)."""
    if status >= 500:
        return [f"server error {status}: {body[:300]!r}"]
    if status < 400:
        return []
    if not content_type.startswith("application/json"):
        return [f"{status} answered as {content_type!r}, not JSON: {body[:300]!r}"]
    try:
        parsed = json.loads(body)
    except ValueError:
        return [f"{status} body is not JSON: {body[:300]!r}"]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict) or set(parsed) != {"error"}:
        return [f"{status} body is not {{'error': {{...}}}}: {parsed!r:.300}"]
    problems = []
    if set(error) != {"code", "message", "details", "request_id"}:
        problems.append(f"{status} error keys are {sorted(error)}")
    if not isinstance(error.get("code"), str) or not error.get("code"):
        problems.append(f"{status} error code is {error.get('code')!r}")
    if not isinstance(error.get("message"), str):
        problems.append(f"{status} error message is {error.get('message')!r}")
    details = error.get("details")
    if not isinstance(details, list) or not all(
        isinstance(d, dict) and {"loc", "msg", "type"} <= set(d) for d in details
    ):
        problems.append(f"{status} error details are {details!r:.300}")
    if not isinstance(error.get("request_id"), str) or not error.get("request_id"):
        problems.append(f"{status} error has no request_id: {error.get('request_id')!r}")
    return problems


def assert_contract(status: int, body: bytes, content_type: str, what: str = "") -> None:
    problems = error_shape_problems(status, body, content_type)
    assert not problems, f"{what}: " + "; ".join(problems)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


async def seed(service: Running, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """Real objects of `service`, so the fuzzers also reach past the "not found" of random ids."""
    async with httpx.AsyncClient(base_url=service.url, timeout=WAIT) as client:
        if service.name == "tickets":
            created = await client.post(
                "/api/v1/tickets",
                data={"topic": "reports", "comment": "Report broken", "message": "No totals."},
                files=[("file", ("a.png", PNG, "image/png"))],
                headers=headers["user"],
            )
            assert created.status_code == 201, created.text
            body = created.json()
            # The history view follows through the relay and NATS: wait (bounded) until it shows it.
            async with asyncio.timeout(WAIT):
                path = f"/api/v1/tickets/{body['ticket_id']}"
                while (await client.get(path, headers=headers["user"])).status_code != 200:
                    await asyncio.sleep(0.05)
            return {"ticket_id": body["ticket_id"], "attachment_id": body["attachment_id"]}
        if service.name == "notifications":
            sent = await client.post(
                "/api/v1/messages",
                json={"account_id": "hotel-a", "user_id": "u1", "text": "Your invoice is fixed"},
                headers=headers["agent"],
            )
            assert sent.status_code == 201, sent.text
            return {"popup_id": sent.json()["popup_id"]}
        if service.name == "kb-search":
            published = await client.post("/api/v1/kb/articles", json=ARTICLE, headers=headers["editor"])
            assert published.status_code == 201, published.text
            return {"article_id": ARTICLE_ID}
    return {}


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


async def raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = WAIT) -> RawAnswer:
    """Send bytes exactly as given (no client normalises them) and read one answer.

    `head` is the request line and headers without the blank line; the answer is read as soon as it
    comes, whether or not the server read all of `body` (or the body that `Content-Length` promised).
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head.rstrip(b"\r\n") + b"\r\n\r\n" + body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            status_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            content = await reader.readexactly(length) if length else b""
            return RawAnswer(status=int(status_line.split()[1]), headers=headers, body=content)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
