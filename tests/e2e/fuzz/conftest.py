"""Fixtures of the fuzz suites: each service running against the real nats-server, SQLite in tmp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from shared.settings import CommonSettings
from tests.conftest import TokenFactory, auth
from tests.e2e.fuzz.fuzz_harness import Running, running_service


@pytest.fixture
def fuzz_common(common_settings: CommonSettings, nats_prefix: str) -> CommonSettings:
    return common_settings.model_copy(update={"nats_prefix": nats_prefix})


@pytest.fixture
def role_headers(make_token: TokenFactory) -> dict[str, dict[str, str]]:
    """Headers of every kind of caller the fuzzers send: three roles, no token, a garbage token."""
    return {
        "user": auth(make_token(role="user", account="hotel-a", sub="u1", name="User One")),
        "agent": auth(make_token(role="agent", account=None, sub="agent-1", name="Agent One")),
        "editor": auth(make_token(role="editor", account=None, sub="ed-1", name="Editor One")),
        "none": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
    }


def _running(name: str) -> Callable[[CommonSettings], AsyncIterator[Running]]:
    """A fixture named after the service that runs it for the test."""

    async def fixture(fuzz_common: CommonSettings) -> AsyncIterator[Running]:
        async with running_service(name, fuzz_common) as service:
            yield service

    return pytest.fixture(name=name.replace("-", "_"))(fixture)


tickets = _running("tickets")
notifications = _running("notifications")
chat = _running("chat")
kb_search = _running("kb-search")


@pytest.fixture
async def service(request: pytest.FixtureRequest, fuzz_common: CommonSettings) -> AsyncIterator[Running]:
    """The service named by `@pytest.mark.parametrize("service", [names], indirect=True)`."""
    async with running_service(str(request.param), fuzz_common) as running:
        yield running
