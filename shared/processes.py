"""Running the bundled server binaries (nats-server, Caddy) and the services as child processes:
find a binary installed next to this Python, spawn it, wait until it listens, stop it gracefully,
and make sure a child never outlives a supervisor that was killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol


def find_installed_binary(name: str, *, on_path: bool = True) -> Path | None:
    """`name` from this environment's scripts folder (where `*-bin` packages put it), else PATH."""
    for candidate in (Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) if on_path else None
    return Path(found) if found else None


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The child gets SIGTERM when the process (thread) that spawned it dies, even by SIGKILL, so
    nothing is orphaned (Linux: PR_SET_PDEATHSIG). Spawn from the main thread: the signal follows
    the spawning thread's exit."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)


def set_process_name(name: str) -> None:
    """The name `ps -o comm`, `top` and `pgrep` show for this process (Linux: PR_SET_NAME, 15 bytes
    at most); elsewhere nothing changes."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)


def spawn(
    args: list[str],
    *,
    log_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    own_session: bool = True,
    tied_to_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `args` with its output appended to `log_file` (or discarded). `own_session`: Ctrl-C in
    a terminal reaches the supervisor only, which stops children in order."""
    log = log_file.open("ab") if log_file else None
    preexec: Callable[[], None] | None = die_with_parent if tied_to_parent else None
    try:
        return subprocess.Popen(  # noqa: S603 - our own bundled binaries, arguments built here
            args,
            stdout=log or subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=own_session,
            preexec_fn=preexec,
        )
    finally:
        if log is not None:
            log.close()


class ExitedEarly(ChildProcessError):
    """Raised when a child exits before it listens; `returncode` is its exit code."""

    def __init__(self, returncode: int, port: int) -> None:
        super().__init__(f"exited with code {returncode} before listening on {port}")
        self.returncode = returncode


def wait_listening(
    host: str, port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something accepts connections on host:port; `ExitedEarly` if `process` exits first,
    `TimeoutError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ExitedEarly(process.returncode, port)
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class Server(Protocol):
    """Where a server listens and where its output goes."""

    host: str
    port: int
    log_file: Path | None


def launch(
    args: list[str],
    server: Server,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    tied_to_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Spawn a server and return it once it listens on its host and port. If it does not
    (`ExitedEarly`, `TimeoutError`) or the wait is interrupted, it is stopped before the error goes
    on: a server nobody holds never keeps running."""
    process = spawn(args, log_file=server.log_file, env=env, tied_to_parent=tied_to_parent)
    try:
        wait_listening(server.host, server.port, timeout=timeout, process=process)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes] | None, *, timeout: float = 10.0) -> None:
    """Graceful stop: SIGTERM, then SIGKILL after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """Crash it (SIGKILL): what a test of an outage wants."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
