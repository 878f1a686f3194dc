"""The whole system as `helpdesk up` runs it, for tests that go through the one origin (the gateway).

    from tests.support.helpdesk_system import HelpdeskSystem, running_system

    with running_system(tmp_path) as system:
        system.url                     # http://127.0.0.1:<base>, the gateway: APIs, docs, web/dist
        system.ws_url                  # ws://127.0.0.1:<base>
        system.token(role="user", sub="u1", account="demo-hotel")   # a JWT the services accept
        system.service_url("tickets")  # one service directly, bypassing the gateway

Or the session-scoped fixture `helpdesk_system` (one system for the whole test session, the real
front-end build under `web/dist/`), which every suite may ask for (a plugin of tests/conftest.py).

The system runs on a free port base (the gateway on the base, the services on base+1..4), a fresh
data dir with the demo seed, the bundled nats-server on a free port and a known JWT secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from shared.auth import Role, issue_dev_token
from shared.settings import CommonSettings, Environment
from tests.support.processes import SERVICES, free_port_base, up_command
from tests.support.wait import wait_until

JWT_SECRET = "gateway-e2e-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass
class HelpdeskSystem:
    """A running `helpdesk up`."""

    port_base: int
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    jwt_secret: str = JWT_SECRET
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The gateway: the one URL people open."""
        return f"http://127.0.0.1:{self.port_base}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port_base}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port_base + 1 + SERVICES.index(service)}"

    def token(self, *, role: str, sub: str, account: str | None = None, name: str = "") -> str:
        """A development JWT signed with the secret this system runs with."""
        settings = CommonSettings(
            environment=Environment.DEVELOPMENT,
            jwt_algorithm="HS256",
            jwt_secret=SecretStr(self.jwt_secret),
            jwt_audience=CommonSettings.model_fields["jwt_audience"].default,
            jwt_issuer=CommonSettings.model_fields["jwt_issuer"].default,
        )
        return issue_dev_token(settings, role=Role(role), sub=sub, account_id=account, name=name or sub)

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def wait_ready(self, timeout: float = 150) -> dict[str, int]:
        """Until the gateway answers and every process is in `up.pids`; returns those pids."""
        pids_file = self.data_dir / "up.pids"
        with httpx.Client(timeout=2) as client:

            def ready() -> dict[str, int] | None:
                if self.process.poll() is not None:
                    raise AssertionError(f"helpdesk up exited early:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
                    pids: dict[str, int] = json.loads(pids_file.read_text())
                    if "caddy" in pids and client.get(f"{self.url}/healthz").status_code == 200:
                        return pids
                return None

            self.pids = wait_until(
                ready, timeout=timeout, interval=0.3, what=lambda: f"helpdesk up ready:\n{self.log_tail()}"
            )
        return self.pids

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, as a terminal sends it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_system(
    tmp: Path,
    *,
    web_dir: Path | None = None,
    jwt_secret: str = JWT_SECRET,
    seed: bool = True,
    port_base: int | None = None,
    settings: dict[str, str] | None = None,
) -> HelpdeskSystem:
    """Start `helpdesk up` (not waiting for it): data under `tmp/data`, its output in `tmp/up-*.log`;
    on a free port base unless `port_base` is given; `settings` are more `HELPDESK_*` variables."""
    data_dir = tmp / "data"
    port_base = port_base or free_port_base()
    log = tmp / f"up-{port_base}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(HELPDESK_JWT_SECRET=jwt_secret, HELPDESK_ENVIRONMENT="development", PYTHONUNBUFFERED="1")
    env.update(settings or {})
    args = up_command(data_dir, port_base)
    if web_dir is not None:
        args += ["--web-dir", str(web_dir)]
    if not seed:
        args.append("--no-seed")
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    return HelpdeskSystem(
        port_base=port_base, data_dir=data_dir, log=log, process=process, jwt_secret=jwt_secret
    )


@contextlib.contextmanager
def running_system(
    tmp: Path, *, web_dir: Path | None = None, settings: dict[str, str] | None = None
) -> Iterator[HelpdeskSystem]:
    """A ready system (`settings`: more `HELPDESK_*` variables); Ctrl-C at the end (killed if that fails)."""
    system = start_system(tmp, web_dir=web_dir, settings=settings)
    try:
        system.wait_ready()
        yield system
    finally:
        try:
            system.interrupt()
        except subprocess.TimeoutExpired:
            system.kill()


@pytest.fixture(scope="session")
def helpdesk_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    """One `helpdesk up` for the session, serving the real front-end build (`web/dist/`)."""
    with running_system(tmp_path_factory.mktemp("helpdesk-up")) as system:
        yield system
