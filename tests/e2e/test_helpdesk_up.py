"""`helpdesk up` runs the whole system behind its gateway, stops cleanly on Ctrl-C (the gateway's Caddy
included) and keeps its data for the next run."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import SERVICES, Up, dev_token, free_port_base
from tests.support.wait import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes only once reaped; check its state.
    with contextlib.suppress(FileNotFoundError):
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    return False


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            if (text in cmdline or text in environ) and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def wait_for_gateway(up: Up, timeout: float = 30) -> dict[str, int]:
    """Until the gateway (started once the services are ready) answers; the pids then recorded."""
    gateway = f"http://127.0.0.1:{up.port_base}"

    def answering() -> dict[str, int] | None:
        assert up.process.poll() is None, up.log.read_text()[-4000:]
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
            pids: dict[str, int] = json.loads((up.data_dir / "up.pids").read_text())
            if "caddy" in pids and httpx.get(f"{gateway}/healthz", timeout=2).status_code == 200:
                return pids
        return None

    return wait_until(
        answering, timeout=timeout, interval=0.2, what=lambda: "the gateway:\n" + up.log.read_text()[-4000:]
    )


@pytest.fixture
def up_factory(tmp_path: Path) -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()


def test_up_serves_all_four_services_stops_on_ctrl_c_and_keeps_its_data(
    tmp_path: Path, up_factory: list[Up]
) -> None:
    data_dir = tmp_path / "data"
    first = Up(data_dir, free_port_base())
    up_factory.append(first)
    first.wait_ready()
    pids = wait_for_gateway(first)
    assert set(pids) == {*SERVICES, "nats-server", "caddy"}
    log = first.log.read_text()
    banner = log[log.index(f"Open http://127.0.0.1:{first.port_base}/") :]  # first, then the rest
    assert "OtelMS Helpdesk is running" in banner and f"tickets        {first.url('tickets')}" in banner

    user = dev_token("--role", "user", "--account", "demo-hotel", "--sub", "demo-user")
    headers = {"Authorization": f"Bearer {user}"}
    with httpx.Client(timeout=10) as client:
        created = client.post(
            f"http://127.0.0.1:{first.port_base}/api/v1/tickets",  # through the gateway
            data={
                "topic": "other",
                "comment": "Printer",
                "message": "The fiscal printer is offline",
                "importance": "normal",
            },
            headers=headers,
        )
        assert created.status_code in (200, 201), created.text
        ticket_id = created.json()["id"]

    assert first.interrupt() == 0, first.log.read_text()[-4000:]
    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} (pid {pid}) is still running after Ctrl-C"
    assert processes_mentioning(str(data_dir)) == []

    second = Up(data_dir, free_port_base())
    up_factory.append(second)
    second.wait_ready()
    with httpx.Client(timeout=10) as client:
        found = client.get(f"{second.url('tickets')}/api/v1/tickets/{ticket_id}", headers=headers)
        assert found.status_code == 200, found.text
    assert second.interrupt() == 0
    assert processes_mentioning(str(data_dir)) == []
    # The data was prepared by this code: the second start skips migrate and seed (cold start).
    skipped = "migrate and seed skipped"
    assert skipped not in first.log.read_text() and skipped in second.log.read_text()


def test_token_command_refuses_when_a_production_key_is_configured() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(HELPDESK_ENVIRONMENT="production", HELPDESK_JWT_SECRET="x" * 48)
    result = subprocess.run(
        [sys.executable, "-m", "helpdesk.cli", "token", "--role", "agent", "--sub", "a1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "refused" in result.stderr
    assert result.stdout == ""
