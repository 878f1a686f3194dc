"""Benchmark of the notifications service: reply → popup on SSE latency, and SSE streams per process.

Runs its own nats-server (bundled binary) and one `python -m notifications` process on SQLite in a
temporary folder, then from this process:

1. latency: a support reply is published on the tickets stream and acknowledged by JetStream ("reply
   accepted"); the clock stops when the popup arrives on the requester's SSE stream. p50/p99.
2. capacity: opens idle SSE streams in steps (one user each, heartbeats on), and at each step measures
   the same latency for probe users among them; reports the largest step whose p99 stays under 50 ms,
   the time for one account-wide popup to reach every open stream, and the service's memory per open
   stream (RSS growth over the streams opened since the first one, read from /proc).

`--processes 2` runs that many notifications processes on one NATS and spreads the streams over them
round-robin (replicas behind a balancer); memory is then per process. Replicas share one store:
SQLite by default, where the one relay learns of a popup stored by another replica only by polling
(`relay_poll_seconds`, 0.2 s), or PostgreSQL with `--postgres-dsn` (a schema of its own, dropped at
the end), where the store's NOTIFY wakes it — the deployment's case. The machine is shared: the load
average is printed beside every figure.

`--tracemalloc` runs the (first) service under `tracemalloc` and, at each step, prints what Python
allocates per stream opened since the previous step and the sites that grew most: where a stream's
bytes go. Tracing slows the service: take its latencies from a run without it.

Bounded: each step sends a fixed number of replies; the whole run takes a few minutes at 10,000.
    .venv/bin/python -m benchmarks.notifications_sse [--steps 500,1000,2000] [--replies 200] [--processes 1]
        [--tracemalloc] [--postgres-dsn postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from pydantic import SecretStr

from benchmarks.pgschema import fresh_schema
from shared.auth import Role, issue_dev_token
from shared.contracts.subjects import event_subject, with_prefix
from shared.natsserver import NatsServer, free_port
from shared.settings import CommonSettings, Environment

ROOT = Path(__file__).resolve().parents[1]
SECRET = "benchmark-secret-that-is-long-enough-0123456789"  # noqa: S105 -- a throwaway local secret
PREFIX = "bench"
ACCOUNT = "hotel-bench"


class SseClient:
    """A raw-socket SSE client (cheap enough to hold thousands from one process)."""

    def __init__(self, port: int, token: str, on_data: Callable[[dict[str, Any]], None]) -> None:
        self.port, self.token, self.on_data = port, token, on_data
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        writer.write(
            (
                f"GET /api/v1/popups/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode().rstrip("\r\n")
                if text.startswith("event: ready"):
                    self.ready.set()
                elif text.startswith("data: {") and '"popup"' in text:
                    self.on_data(json.loads(text[6:]))
        finally:
            writer.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def envelope(event_type: str, data: dict[str, Any], *, ticket: uuid.UUID, actor: dict[str, str]) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "type": event_type,
            "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "account_id": ACCOUNT,
            "aggregate_id": str(ticket),
            "aggregate_version": 1,
            "ticket_number": "HD-000001",
            "actor": actor,
            "data": data,
        }
    ).encode()


class Bench:
    def __init__(self, ports: list[int], common: CommonSettings) -> None:
        self.ports, self.common = ports, common
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.clients: list[SseClient] = []

    def token(self, user: str) -> str:
        return issue_dev_token(self.common, role=Role.USER, sub=user, account_id=ACCOUNT)

    def on_data(self, event: dict[str, Any]) -> None:
        now = time.perf_counter()
        marker = event["data"]["popup"]["text"]
        self.arrived.setdefault(marker, now)
        waiter = self.waiters.get(marker)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    async def open_streams(self, users: list[str]) -> None:
        start = len(self.clients)
        fresh = [
            SseClient(self.ports[(start + i) % len(self.ports)], self.token(u), self.on_data)
            for i, u in enumerate(users)
        ]
        for chunk in range(0, len(fresh), 100):
            batch = fresh[chunk : chunk + 100]
            for client in batch:
                client.task = asyncio.create_task(client.run())
            await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in batch)), timeout=60)
        self.clients.extend(fresh)

    async def reply_latencies(self, js: Any, users: list[str], replies: int) -> list[float]:
        """Each user opened a ticket; support replies to each in turn, one at a time."""
        tickets = {u: uuid.uuid4() for u in users}
        for user, ticket in tickets.items():
            created = {
                "number": "HD-000001",
                "topic": "t",
                "importance": "normal",
                "comment": "c",
                "message": "m",
                "status": "new",
                "message_id": str(uuid.uuid4()),
            }
            await js.publish(
                with_prefix(PREFIX, event_subject("tickets", "ticket.created", 1)),
                envelope("ticket.created", created, ticket=ticket, actor={"kind": "user", "id": user}),
            )
        out = []
        for i in range(replies):
            user = users[i % len(users)]
            marker = f"m-{uuid.uuid4().hex}"
            waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self.waiters[marker] = waiter
            data = {"message_id": str(uuid.uuid4()), "author_role": "agent", "text": marker}
            await js.publish(
                with_prefix(PREFIX, event_subject("tickets", "ticket.replied", 1)),
                envelope("ticket.replied", data, ticket=tickets[user], actor={"kind": "agent", "id": "a"}),
            )
            accepted = time.perf_counter()
            received = await asyncio.wait_for(waiter, timeout=30)
            out.append((received - accepted) * 1000)
        return out

    async def broadcast_ms(self, agent_token: str, pids: list[int]) -> tuple[float, float, int, str]:
        """One account-wide popup: ms until it reached half / all of the open streams, and the CPU
        the services and this client (which reads every stream) spent meanwhile."""
        marker = f"b-{uuid.uuid4().hex}"
        counts = {"n": 0}
        times: list[float] = []
        done = asyncio.Event()
        target = len(self.clients)

        def count(event: dict[str, Any]) -> None:
            if event["data"]["popup"]["text"] == marker:
                counts["n"] += 1
                times.append(time.perf_counter())
                if counts["n"] >= target:
                    done.set()

        original = self.on_data
        for client in self.clients:
            client.on_data = count
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.ports[0]}", timeout=30) as http:
            service_cpu, client_cpu = sum(cpu_seconds(p) for p in pids), time.process_time()
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/messages",
                json={"account_id": ACCOUNT, "text": marker},
                headers={"Authorization": f"Bearer {agent_token}"},
            )
            response.raise_for_status()
            await asyncio.wait_for(done.wait(), timeout=60)
            service_cpu = sum(cpu_seconds(p) for p in pids) - service_cpu
            client_cpu = time.process_time() - client_cpu
        for client in self.clients:
            client.on_data = original
        cpu = f"CPU: service {service_cpu * 1000:.0f} ms, this client {client_cpu * 1000:.0f} ms"
        return (times[len(times) // 2] - started) * 1000, (times[-1] - started) * 1000, counts["n"], cpu


# The service under `tracemalloc`: SIGUSR1 dumps a snapshot to $BENCH_SNAPSHOT_DIR/<n>.snap.
TRACED_SERVICE = """
import os, runpy, signal, tracemalloc
tracemalloc.start(1)
taken = [0]
def dump(*_):
    taken[0] += 1
    path = os.path.join(os.environ["BENCH_SNAPSHOT_DIR"], str(taken[0]))
    tracemalloc.take_snapshot().dump(path + ".tmp")
    os.replace(path + ".tmp", path + ".snap")
signal.signal(signal.SIGUSR1, dump)
runpy.run_module("notifications", run_name="__main__")
"""


class Snapshots:
    """Snapshots of the traced service's heap, each compared with the one before."""

    def __init__(self, pid: int, folder: Path) -> None:
        self.pid, self.folder, self.taken = pid, folder, 0
        self.previous: tracemalloc.Snapshot | None = None

    async def take(self) -> tracemalloc.Snapshot:
        self.taken += 1
        path = self.folder / f"{self.taken}.snap"
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 120
        while not path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no heap snapshot from the service")
            await asyncio.sleep(0.2)
        return tracemalloc.Snapshot.load(str(path))

    async def report(self, streams: int) -> None:
        """Bytes a stream (growth since the previous snapshot over `streams`) and the sites that grew."""
        snapshot = await self.take()
        if self.previous is not None and streams > 0:
            stats = snapshot.compare_to(self.previous, "lineno")
            grown = sum(s.size_diff for s in stats)
            print(f"  tracemalloc: {grown / streams:,.0f} B a stream over {streams} streams; largest sites:")
            for stat in sorted(stats, key=lambda s: -s.size_diff)[:12]:
                frame = stat.traceback[0]
                where = "/".join(Path(frame.filename).parts[-2:])
                print(
                    f"    {stat.size_diff / streams:8,.0f} B  {stat.count_diff / streams:5.2f} blocks  "
                    f"{where}:{frame.lineno}"
                )
        self.previous = snapshot


def raise_open_files(wanted: int) -> None:
    """Each stream is a socket on both sides: lift the soft limit as far as the hard one allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


async def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
        while True:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not become ready")
            await asyncio.sleep(0.2)


async def main(
    steps: list[int], replies: int, processes: int, traced: bool = False, postgres_dsn: str | None = None
) -> None:
    raise_open_files(steps[-1] * 2 + 1000)
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(postgres_dsn) as store_env:
        server = NatsServer(store_dir=Path(tmp) / "nats")
        server.start()
        ports = [free_port() for _ in range(processes)]
        common = CommonSettings(
            environment=Environment.TEST,
            nats_url=server.url,
            jwt_secret=SecretStr(SECRET),
            nats_prefix=PREFIX,
            data_dir=Path(tmp) / "data",
        )
        env = {
            **os.environ,
            "HELPDESK_ENVIRONMENT": "test",
            "HELPDESK_NATS_URL": server.url,
            "HELPDESK_NATS_PREFIX": PREFIX,
            "HELPDESK_JWT_SECRET": SECRET,
            "HELPDESK_DATA_DIR": str(common.data_dir),
            "HELPDESK_LOG_LEVEL": "WARNING",
            "HELPDESK_NOTIFICATIONS_MIGRATE_ON_START": "true",
            # Thousands of streams and popups in one account: a load, not a hotel. No per-account cap
            # on streams (0): with one, every open reads the whole account's slots (a hotel holds ≤ 500).
            "HELPDESK_RATE_LIMIT_STREAMS_PER_ACCOUNT": "0",
            "HELPDESK_RATE_LIMIT_MESSAGE_PER_ACCOUNT": "1000000",
            "HELPDESK_RATE_LIMIT_STAFF_PER_USER": "1000000",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services" / "notifications")]),
            **store_env,
        }
        procs: list[subprocess.Popen[bytes]] = []
        nc = None
        bench: Bench | None = None
        try:
            for index, port in enumerate(ports):
                extra = {"HELPDESK_NOTIFICATIONS_PORT": str(port)}
                if index > 0:  # replicas: one relay and one migration, every process fans out
                    extra |= {
                        "HELPDESK_NOTIFICATIONS_RUN_RELAY": "false",
                        "HELPDESK_NOTIFICATIONS_MIGRATE_ON_START": "false",
                    }
                if traced and index == 0:
                    extra["BENCH_SNAPSHOT_DIR"] = tmp
                    command = [sys.executable, "-c", TRACED_SERVICE]
                else:
                    command = [sys.executable, "-m", "notifications"]
                procs.append(subprocess.Popen(command, env=env | extra, cwd=ROOT))
                await wait_ready(port)
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            bench = Bench(ports, common)
            agent = issue_dev_token(common, role=Role.AGENT, sub="agent-bench")

            await bench.open_streams(["probe-0"])
            await bench.reply_latencies(js, ["probe-0"], 20)  # warm-up
            single = await bench.reply_latencies(js, ["probe-0"], replies)
            store = "PostgreSQL" if store_env else "SQLite"
            print(
                f"{processes} process(es) on {store}; reply accepted → popup on SSE "
                f"(1 stream, {replies} replies): "
                f"p50 {statistics.median(single):.1f} ms, p99 {percentile(single, 0.99):.1f} ms ({load()})"
            )
            if processes > 1:  # one idle stream on each replica before the baseline
                await bench.open_streams([f"user-{i}" for i in range(processes - 1)])
            baseline = [rss_kib(p.pid) for p in procs]
            base_streams = len(bench.clients)
            snapshots = Snapshots(procs[0].pid, Path(tmp)) if traced else None
            if snapshots is not None:
                await snapshots.report(0)

            held = 0
            for step in steps:
                more = [f"user-{i}" for i in range(len(bench.clients) - 1, step)]  # probe-0 is one
                started = time.perf_counter()
                await bench.open_streams(more)
                opened_s = time.perf_counter() - started
                await asyncio.sleep(1)
                if snapshots is not None:
                    await snapshots.report(len(more))
                rss = [rss_kib(p.pid) for p in procs]
                per_stream = (sum(rss) - sum(baseline)) / max(1, len(bench.clients) - base_streams)
                probes = [f"user-{i}" for i in range(0, step, max(1, step // 10))][:10]  # spread out
                lat = await bench.reply_latencies(js, probes, replies)
                p50, p99 = statistics.median(lat), percentile(lat, 0.99)
                half, full, reached, cpu = await bench.broadcast_ms(agent, [p.pid for p in procs])
                print(
                    f"{len(bench.clients):5d} open SSE streams (opened in {opened_s:.1f} s): reply → popup "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; one account-wide popup reached "
                    f"{reached} streams: half in {half:.0f} ms, all in {full:.0f} ms ({cpu}); RSS "
                    f"{' + '.join(f'{r / 1024:.0f}' for r in rss)} MiB, {per_stream:.1f} KiB per stream "
                    f"({load()})"
                )
                if p99 < 50:
                    held = len(bench.clients)
            print(
                f"streams {processes} process(es) hold with reply → popup p99 < 50 ms: {held} "
                f"(largest step tried: {steps[-1]})"
            )
        finally:
            if bench is not None:  # the streams end here, not as pending tasks at the loop's close
                readers = [c.task for c in bench.clients if c.task is not None]
                for task in readers:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
            if nc is not None:
                await nc.close()
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            server.stop()


@contextlib.contextmanager
def postgres_schema(dsn: str | None) -> Iterator[dict[str, str]]:
    """The service's environment for a store in a fresh PostgreSQL schema (dropped after), or none."""
    with fresh_schema(dsn) as schema:
        if dsn is None or schema is None:
            yield {}
        else:
            yield {
                "HELPDESK_NOTIFICATIONS_POSTGRES_DSN": dsn,
                "HELPDESK_NOTIFICATIONS_POSTGRES_SCHEMA": schema,
            }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="500,1000,2000")
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true", help="where a stream's bytes go (slower)")
    parser.add_argument("--postgres-dsn", default=None, help="store on PostgreSQL (default: SQLite)")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    asyncio.run(main(steps, args.replies, args.processes, args.tracemalloc, args.postgres_dsn))
