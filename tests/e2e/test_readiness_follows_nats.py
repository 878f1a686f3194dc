"""Every service's `/readyz` answers 503 while NATS is away and 200 again once it is back, as a real
process configured only by environment variables (how Kubernetes runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from helpdesk import services
from shared.natsserver import NatsServer
from tests.support.processes import ServiceProcess, clean_env
from tests.support.wait import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.slow]


def readyz(url: str) -> int:
    try:
        return httpx.get(f"{url}/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return 0


def wait_for_status(url: str, status: int, *, timeout: float) -> None:
    what = f"{url}/readyz answering {status}"
    wait_until(
        lambda: readyz(url) == status, timeout=timeout, interval=0.2, what=lambda: f"{what} ({readyz(url)})"
    )


@pytest.mark.parametrize("name", list(services.PACKAGES))
def test_readyz_follows_the_nats_connection(name: str, tmp_path: Path) -> None:
    definition = services.definition(name)
    nats = NatsServer(store_dir=tmp_path / "nats").start()
    try:
        env = clean_env(
            HELPDESK_ENVIRONMENT="test",
            HELPDESK_NATS_URL=nats.url,
            HELPDESK_DATA_DIR=str(tmp_path / "data"),
            HELPDESK_LOG_JSON="true",
        )
        subprocess.run(
            [sys.executable, "-m", "helpdesk.cli", "migrate", name],
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
        )
        service = ServiceProcess(
            module=definition.package,
            env=env,
            log_path=tmp_path / f"{name}.log",
            env_prefix=definition.env_prefix,
        ).start()
        try:
            service.wait_ready(timeout=60)
            nats.kill()
            wait_for_status(service.url, 503, timeout=20)
            assert httpx.get(f"{service.url}/healthz", timeout=3).status_code == 200  # alive, just not ready
            nats.start()  # the same port and data
            wait_for_status(service.url, 200, timeout=60)
        finally:
            service.terminate()
    finally:
        nats.stop()
