"""`helpdesk up` forks its services from the supervisor: a forked child is the supervisor's own child
with the service's environment and name and nothing else of the supervisor's (descriptors, signal
handlers), it exits as the `python -m` process it replaces would, and the supervisor restarts it."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpdesk import services
from helpdesk.forking import PRELOAD, ForkedProcess, fork, fork_enabled
from helpdesk.supervisor import Outcome, RestartPolicy, Supervised
from tests.support.wait import wait_until


@pytest.fixture
def forked() -> Iterator[list[ForkedProcess]]:
    children: list[ForkedProcess] = []
    yield children
    for child in children:
        child.kill()
        child.wait(timeout=10)


def _start(children: list[ForkedProcess], main: Callable[[], None], **env: str) -> ForkedProcess:
    child = fork(main, name="kb-search", env={"PATH": os.environ.get("PATH", ""), **env})
    children.append(child)
    return child


def _named(pid: int, name: str) -> bool:
    return Path(f"/proc/{pid}/comm").read_text().strip() == name


def _sleep() -> None:
    time.sleep(60)


def test_the_child_has_the_service_environment_and_name_and_none_of_the_supervisor_descriptors(
    tmp_path: Path, forked: list[ForkedProcess]
) -> None:
    report = tmp_path / "child.json"
    with (tmp_path / "supervisor-only").open("w") as held:
        fd = held.fileno()

        def main() -> None:
            try:
                os.fstat(fd)
                inherited = True
            except OSError:
                inherited = False
            facts = {
                "setting": os.environ.get("HELPDESK_TICKETS_PORT"),
                "other": os.environ.get("ONLY_IN_THE_SUPERVISOR"),
                "ppid": os.getppid(),
                "name": Path("/proc/self/comm").read_text().strip(),
                "inherited": inherited,
            }
            report.write_text(json.dumps(facts))

        os.environ["ONLY_IN_THE_SUPERVISOR"] = "1"
        try:
            child = _start(forked, main, HELPDESK_TICKETS_PORT="8701")
        finally:
            del os.environ["ONLY_IN_THE_SUPERVISOR"]
        assert child.wait(timeout=30) == 0
    facts = json.loads(report.read_text())
    assert facts == {
        "setting": "8701",
        "other": None,
        "ppid": os.getpid(),
        "name": "kb-search",
        "inherited": False,
    }


def test_the_exit_code_is_what_python_would_give(
    forked: list[ForkedProcess], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The supervisor's stderr is descriptor 2 (pytest's own stream is a descriptor the child closes).
    monkeypatch.setattr(sys, "stderr", open(2, "w", closefd=False))  # noqa: SIM115

    def refuses() -> None:
        raise SystemExit(3)

    def fails() -> None:
        raise RuntimeError("the store is gone")

    assert _start(forked, refuses).wait(timeout=30) == 3
    assert _start(forked, fails).wait(timeout=30) == 1
    assert "RuntimeError: the store is gone" in capfd.readouterr().err


def test_a_child_that_fails_hands_the_end_of_its_error_to_the_supervisor(
    forked: list[ForkedProcess], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", open(2, "w", closefd=False))  # noqa: SIM115 - as above

    def fails() -> None:
        raise ModuleNotFoundError("No module named 'kb_search.gone'")

    def refuses() -> None:
        raise SystemExit("kb-search: port 8704 is taken")

    def stops() -> None:
        raise SystemExit(0)

    failed, refused, stopped = (_start(forked, main) for main in (fails, refuses, stops))
    assert [child.wait(timeout=30) for child in (failed, refused, stopped)] == [1, 1, 0]
    assert failed.error.startswith("Traceback (most recent call last):")
    assert failed.error.endswith("ModuleNotFoundError: No module named 'kb_search.gone'\n")
    assert refused.error == "kb-search: port 8704 is taken\n"
    assert stopped.error == ""
    printed = capfd.readouterr().err  # and each still printed it on stderr, as Python would
    assert "ModuleNotFoundError: No module named 'kb_search.gone'" in printed
    assert "kb-search: port 8704 is taken" in printed


def test_sigterm_and_sigint_have_their_default_effect_whatever_the_supervisor_installed(
    forked: list[ForkedProcess],
) -> None:
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        terminated = _start(forked, _sleep)
        interrupted = _start(forked, _sleep)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # Until the child has replaced the supervisor's handlers a signal would be lost: wait for its name.
    for child in (terminated, interrupted):
        wait_until(functools.partial(_named, child.pid, "kb-search"))
    terminated.send_signal(signal.SIGTERM)
    interrupted.send_signal(signal.SIGINT)  # KeyboardInterrupt, then death by SIGINT, as Python does
    assert terminated.wait(timeout=30) == -signal.SIGTERM
    assert interrupted.wait(timeout=30) == -signal.SIGINT


def test_wait_times_out_while_the_child_runs(forked: list[ForkedProcess]) -> None:
    child = _start(forked, _sleep)
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=0.2)
    assert child.poll() is None
    child.kill()
    assert child.wait(timeout=30) == -signal.SIGKILL


def test_a_crashed_forked_service_is_forked_again_after_its_delay(forked: list[ForkedProcess]) -> None:
    said: list[str] = []

    def start() -> ForkedProcess:
        return _start(forked, _sleep)

    unit = Supervised("kb-search", start=start, policy=RestartPolicy(initial_delay=0.5), say=said.append)
    unit.launch(now=0)
    first = unit.pid
    assert unit.check(1) is Outcome.RUNNING
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: unit.check(2) is not Outcome.RUNNING)
    assert said == ["kb-search exited with code -9; restarting it in 0.5s"]
    assert unit.check(2.5) is Outcome.RESTARTED
    assert unit.pid not in (None, first)
    assert said[-1] == f"kb-search restarted (pid {unit.pid}, restart 1)"
    assert Path(f"/proc/{unit.pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())


@pytest.mark.parametrize(
    ("setting", "forks"), [(None, True), ("1", True), ("0", False), ("false", False), ("off", False)]
)
def test_forking_is_the_default_and_a_setting_turns_it_off(setting: str | None, forks: bool) -> None:
    environ = {} if setting is None else {"HELPDESK_UP_FORK": setting}
    assert fork_enabled(environ) is forks


def test_the_supervisor_preloads_no_service_each_fork_imports_its_own() -> None:
    """A service imported in the supervisor would be imported in series, and its metrics would show
    in the other services' `/metrics`."""
    packages = set(services.PACKAGES.values())
    assert [name for name in PRELOAD if name.split(".")[0] in packages] == []
    code = (
        "import json, sys\nfrom helpdesk import forking\n"
        "forking.preload()\nprint(json.dumps(list(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert loaded & packages == set()


def test_what_the_supervisor_preloads_for_its_forks_exists() -> None:
    assert [name for name in PRELOAD if importlib.util.find_spec(name) is None] == []
