"""The one launcher of the suites' processes: a service as `python -m <module>` (start, wait until
ready, stop, kill), `helpdesk up`, and the free ports and clean environment they run with."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.natsserver import free_port
from tests.support.wait import wait_until

SERVICES = ("tickets", "notifications", "chat", "kb-search")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any HELPDESK_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class ServiceProcess:
    """`python -m <module>` with its env; its output goes to `log_path`."""

    module: str
    env: dict[str, str]
    log_path: Path
    port: int = 0
    env_prefix: str = ""
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        if not self.port:
            self.port = free_port()
        env = dict(self.env)
        if self.env_prefix:
            env[f"{self.env_prefix}PORT"] = str(self.port)
            env[f"{self.env_prefix}HOST"] = "127.0.0.1"
        env.update(self.extra_env)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )
        return self

    def wait_ready(self, timeout: float = 60, *, url: str | None = None) -> ServiceProcess:
        """Until `url` (its /readyz by default) answers 200; fails at once if the process exits."""
        url = url or f"{self.url}/readyz"
        with httpx.Client(timeout=2) as client:

            def ready() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.module} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    return client.get(url).status_code == 200
                return False

            what = f"{url} of {self.module}"
            wait_until(ready, timeout=timeout, interval=0.2, what=lambda: f"{what}:\n{self.log_tail()}")
        return self

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def terminate(self, timeout: float = 20) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def free_port_base(host: str = "127.0.0.1") -> int:
    """A base with base..base+4 free: the gateway and the four services.

    Below Linux's range for outgoing connections (32768–60999 by default): a port there can be taken
    by any client socket between this check and the service's bind."""
    for _ in range(200):
        base = random.randrange(20000, 32760, 10)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + 5):
                    sock = stack.enter_context(socket.socket())
                    sock.bind((host, port))
            except OSError:
                continue
            return base
    raise RuntimeError("no five free consecutive ports")


def up_command(data_dir: Path, port_base: int) -> list[str]:
    """`helpdesk up` with its data in `data_dir`, nats-server on a free port, the gateway on `port_base`."""
    up = ["up", "--data-dir", str(data_dir), "--nats-port", "0", "--port-base", str(port_base)]
    return [sys.executable, "-m", "helpdesk.cli", *up]


class Up:
    def __init__(self, data_dir: Path, port_base: int) -> None:
        self.data_dir = data_dir
        self.port_base = port_base
        self.log = data_dir.parent / f"up-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                up_command(data_dir, port_base), stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port_base + 1 + SERVICES.index(service)}"

    def wait_ready(self, timeout: float = 150) -> dict[str, int]:
        pids_file = self.data_dir / "up.pids"
        with httpx.Client(timeout=2) as client:

            def ready() -> dict[str, int] | None:
                assert self.process.poll() is None, self.log.read_text()[-4000:]
                answered = 0
                for service in SERVICES:
                    with contextlib.suppress(httpx.HTTPError):
                        answered += client.get(f"{self.url(service)}/readyz").status_code == 200
                if answered < len(SERVICES) or not pids_file.exists():
                    return None
                pids: dict[str, int] = json.loads(pids_file.read_text())
                return pids

            return wait_until(
                ready,
                timeout=timeout,
                interval=0.5,
                what=lambda: "helpdesk up ready:\n" + self.log.read_text()[-4000:],
            )

    def interrupt(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)


def dev_token(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    out = subprocess.run(
        [sys.executable, "-m", "helpdesk.cli", "token", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
