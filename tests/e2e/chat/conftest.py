"""A chat cluster per test: its own nats-server (store in the test's tmp dir) and two chat processes;
and a stand-in for the tickets service's `POST /api/v1/tickets`."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chat.bootstrap import migrate
from chat.settings import ChatSettings
from shared.natsserver import NatsServer
from shared.settings import CommonSettings, Environment
from tests.conftest import TEST_JWT_SECRET
from tests.support.chat import ChatProcess, start_chat_process

PREFIX = "chate2e"


@dataclass
class ChatCluster:
    nats: NatsServer
    a: ChatProcess
    b: ChatProcess
    settings: ChatSettings
    tmp: Path


ClusterFactory = Callable[..., AbstractAsyncContextManager[ChatCluster]]


@pytest.fixture
def chat_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(store_dir=tmp_path / "nats-store", log_file=tmp_path / "nats-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chat_cluster(chat_nats: NatsServer, tmp_path: Path) -> ClusterFactory:
    """`async with chat_cluster(HELPDESK_CHAT_X="…") as cluster:` two processes, stopped after."""

    @asynccontextmanager
    async def factory(**env: str) -> AsyncIterator[ChatCluster]:
        base = {
            "HELPDESK_ENVIRONMENT": "test",
            "HELPDESK_NATS_URL": chat_nats.url,
            "HELPDESK_NATS_PREFIX": PREFIX,
            "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
            "HELPDESK_LOG_JSON": "true",
            "HELPDESK_LOG_LEVEL": "DEBUG",
            "HELPDESK_DATA_DIR": str(tmp_path / "data"),
            "HELPDESK_CHAT_AGENT_GRACE_SECONDS": "1",
            "HELPDESK_CHAT_PRESENCE_TTL_SECONDS": "6",
            "HELPDESK_CHAT_TICK_SECONDS": "0.2",
            "HELPDESK_CHAT_RATE_PER_SECOND": "20",
            "HELPDESK_CHAT_RATE_BURST": "40",
            # Most tests open many chats in one account; the caps have their own tests.
            "HELPDESK_CHAT_MAX_CHATS_PER_ACCOUNT": "1000",
            **env,
        }
        common = CommonSettings(
            environment=Environment.TEST,
            nats_url=chat_nats.url,
            nats_prefix=PREFIX,
            jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        )
        ttl = float(base["HELPDESK_CHAT_PRESENCE_TTL_SECONDS"])
        settings = ChatSettings(common=common, presence_ttl_seconds=ttl)
        await migrate(settings)
        a = start_chat_process(env=base, log_path=tmp_path / "chat-a.log")
        try:
            b = start_chat_process(env=base, log_path=tmp_path / "chat-b.log")
        except BaseException:
            a.stop()
            raise
        try:
            yield ChatCluster(nats=chat_nats, a=a, b=b, settings=settings, tmp=tmp_path)
        finally:
            a.stop()
            b.stop()

    return factory


class FakeTickets:
    """Stands in for `POST /api/v1/tickets`: records what it got, answers with a ticket number."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 201
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                answer = json.dumps({"number": f"HD-{len(fake.received):06d}"}).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_tickets() -> Iterator[FakeTickets]:
    fake = FakeTickets()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
