"""CPU seconds of the processes a tickets benchmark loads, PostgreSQL's share included.

utime+stime from /proc/<pid>/stat, before and after. PostgreSQL: the backends serving the measured
processes (found by their client ports) plus the server's shared processes (WAL writer, checkpointer,
…). The server is shared with other sessions on this machine; their backends are left out.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


PG_PORT_HEX = f"{5432:04X}"


def postgres_client_ports(pids: list[int]) -> list[int]:
    """Local TCP ports of these processes' connections to PostgreSQL (port 5432, loopback)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if inode in inodes and remote.endswith(":" + PG_PORT_HEX):
                    ports.append(int(local.rsplit(":", 1)[1], 16))
    return ports


def postgres_pids(dsn: str, clients: list[int]) -> list[int]:
    """The PostgreSQL server processes working for `clients` (their backends) and for everyone (WAL
    writer, checkpointer, …). The server is shared with other sessions on this machine: their
    backends are not counted (before, every `postgres` process was, and a busy neighbour's backends
    exiting mid-run could even make the figure negative)."""
    import psycopg

    ports = postgres_client_ports(clients)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s) "
            "OR backend_type NOT IN ('client backend', 'autovacuum worker', 'parallel worker')",
            (ports,),
        ).fetchall()
    return [int(pid) for (pid,) in rows]


class CpuMeter:
    """CPU of a set of processes between `start()` and `stop()`; PostgreSQL's share per `postgres_pids`."""

    def __init__(self, pids: dict[str, int], *, postgres_dsn: str | None) -> None:
        self.pids = pids
        self.postgres_dsn = postgres_dsn
        self.before: dict[str, float] = {}
        self.before_pg: dict[int, float] = {}

    def _postgres(self) -> dict[int, float]:
        if not self.postgres_dsn:
            return {}
        clients = [pid for name, pid in self.pids.items() if name not in ("nats", "load-generator")]
        return {pid: cpu_seconds(pid) for pid in postgres_pids(self.postgres_dsn, clients)}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.before_pg = self._postgres()

    def stop(self) -> dict[str, float]:
        used = {name: cpu_seconds(pid) - self.before.get(name, 0.0) for name, pid in self.pids.items()}
        if self.postgres_dsn:
            # A backend opened during the run counts from zero; one closed during it is lost (rare:
            # the pools keep their connections).
            after = self._postgres()
            used["postgres"] = sum(cpu - self.before_pg.get(pid, 0.0) for pid, cpu in after.items())
        return used
