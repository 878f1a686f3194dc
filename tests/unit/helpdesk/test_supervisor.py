"""`helpdesk up` keeps its children running: back-off between restarts, a crash loop stops it, and a
port left in TIME_WAIT by a system stopped a moment ago counts as free."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from helpdesk.supervisor import Outcome, RestartPolicy, Supervised
from helpdesk.up import _port_is_free


def test_the_delay_doubles_with_each_quick_crash_up_to_the_cap() -> None:
    policy = RestartPolicy(initial_delay=0.5, max_delay=4, loop_limit=100)
    delays = [policy.on_crash(now=float(i), uptime=1.0) for i in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_child_that_stayed_up_long_enough_starts_again_from_the_first_delay() -> None:
    policy = RestartPolicy(initial_delay=0.5, stable_after=30, loop_limit=100)
    assert policy.on_crash(now=0, uptime=1) == 0.5
    assert policy.on_crash(now=1, uptime=1) == 1.0
    assert policy.on_crash(now=100, uptime=60) == 0.5


def test_a_crash_loop_is_the_limit_within_the_window_and_old_crashes_are_forgotten() -> None:
    policy = RestartPolicy(loop_limit=3, loop_window=60)
    assert policy.on_crash(now=0, uptime=1) is not None
    assert policy.on_crash(now=30, uptime=1) is not None
    assert policy.on_crash(now=70, uptime=1) is not None  # the crash at 0 is out of the window
    assert policy.on_crash(now=80, uptime=1) is None  # 30, 70 and 80: three within 60 s


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_killed_child_is_restarted_after_its_delay_and_the_log_says_so() -> None:
    said: list[str] = []
    unit = Supervised("chat", start=_sleeper, policy=RestartPolicy(initial_delay=0.5), say=said.append)
    unit.launch(now=0)
    try:
        first = unit.pid
        assert unit.check(1) is Outcome.RUNNING
        assert unit.process is not None
        unit.process.kill()
        unit.process.wait()
        assert unit.check(2) is Outcome.WAITING
        assert said == ["chat exited with code -9; restarting it in 0.5s"]
        assert unit.check(2.2) is Outcome.WAITING  # not before its delay
        assert unit.check(2.5) is Outcome.RESTARTED
        assert unit.pid != first and unit.process is not None and unit.process.poll() is None
        assert said[-1] == f"chat restarted (pid {unit.pid}, restart 1)"
        assert unit.check(3) is Outcome.RUNNING
    finally:
        if unit.process is not None:
            unit.process.kill()
            unit.process.wait()


def test_a_child_that_keeps_crashing_makes_the_supervisor_give_up() -> None:
    said: list[str] = []

    def crashing() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        process.wait()
        return process

    unit = Supervised("tickets", start=crashing, policy=RestartPolicy(loop_limit=3), say=said.append)
    unit.launch(now=0)
    outcomes: list[Outcome] = []
    now = 0.0
    while len(outcomes) < 20 and (not outcomes or outcomes[-1] is not Outcome.GAVE_UP):
        now += 0.1
        outcomes.append(unit.check(now))
    assert outcomes[-1] is Outcome.GAVE_UP
    assert outcomes.count(Outcome.RESTARTED) == 2
    assert said[-1] == "tickets exited with code 3 and keeps crashing (3 times in 60s); stopping"


def test_a_child_that_cannot_start_again_counts_as_another_crash() -> None:
    said: list[str] = []
    attempts = []

    def start() -> subprocess.Popen[bytes]:
        attempts.append(1)
        if len(attempts) > 1:
            raise TimeoutError("nothing listens on 127.0.0.1:4222 after 15s")
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        return process

    unit = Supervised("nats-server", start=start, policy=RestartPolicy(loop_limit=3), say=said.append)
    unit.launch(now=0)
    assert unit.check(0.1) is Outcome.WAITING
    assert unit.check(1.0) is Outcome.WAITING  # the restart failed: scheduled again, longer
    assert "nats-server did not start again: nothing listens on 127.0.0.1:4222 after 15s" in said
    assert said[-1] == "nats-server exited with code None; restarting it in 1s"


def test_a_port_with_only_time_wait_sockets_is_free_and_a_listening_one_is_not() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and Caddy do
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        assert not _port_is_free("127.0.0.1", port)  # something listens
        accepted.close()  # the server side closes first: its socket on `port` enters TIME_WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError, match="Address already in use"):
        plain.bind(("127.0.0.1", port))  # a bind without SO_REUSEADDR is refused: the old check
    assert _port_is_free("127.0.0.1", port)
