"""The gateway's Caddy lives and dies with `helpdesk up`: Ctrl-C stops it, and so does the supervisor's
own death, even by SIGKILL (no orphan keeps the port)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpdesk_system import HelpdeskSystem, start_system
from tests.support.wait import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return False


def caddy_processes_of(system: HelpdeskSystem) -> list[int]:
    """Live processes running a caddy with this system's config."""
    config = str(system.data_dir / "gateway" / "caddy.json")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                if config.encode() in cmdline and alive(int(entry.name)):
                    found.append(int(entry.name))
    return found


def wait_gone(pids: list[int], timeout: float = 15) -> list[int]:
    """The pids still alive after `timeout` (none, once all are gone)."""
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not any(alive(p) for p in pids), timeout=timeout, interval=0.1)
    return [p for p in pids if alive(p)]


@pytest.fixture
def system(tmp_path: Path) -> Iterator[HelpdeskSystem]:
    started = start_system(tmp_path, seed=False)
    try:
        started.wait_ready()
        yield started
    finally:
        started.kill()
        for pid in started.pids.values():  # whatever outlived the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_ctrl_c_stops_the_gateway_with_everything_else(system: HelpdeskSystem) -> None:
    caddy = system.pids["caddy"]
    assert caddy_processes_of(system) == [caddy]
    assert system.interrupt() == 0, system.log_tail()
    assert wait_gone(list(system.pids.values()), timeout=1) == []
    assert caddy_processes_of(system) == []


def test_the_gateway_and_nats_die_with_their_supervisor_even_when_that_is_killed(
    system: HelpdeskSystem,
) -> None:
    assert {"caddy", "nats-server"} <= set(system.pids)
    system.kill()  # SIGKILL: no chance to stop its children
    assert wait_gone(list(system.pids.values())) == [], "orphaned after the supervisor was killed"
    assert caddy_processes_of(system) == []
