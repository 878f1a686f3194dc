"""A chat cluster per test: its own nats-server (store in the test's tmp dir) and two chat processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from chat.bootstrap import migrate
from chat.settings import ChatSettings
from shared.natsserver import NatsServer
from shared.settings import CommonSettings, Environment
from tests.conftest import TEST_JWT_SECRET
from tests.e2e.chat.harness import ChatProcess, start_chat_process

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
