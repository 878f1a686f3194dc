"""Support's inbox with 100,000 requests over 500 hotel accounts in the history view.

    .venv/bin/python -m benchmarks.tickets_inbox --backend sqlite postgres

The view is filled straight through the history store's tables, with the generator and filling code
of `benchmarks/tickets_history_read.py` (its indexes then built by the service's own migration). One
`python -m tickets` (relay and projection off) then answers one agent, one query at a time, over HTTP:

- inbox load: the open inbox's first page (`status` new, in progress, waiting for the user) and the
  counts per status, sent together as the console does; p50/p99 of the time until both are answered;
- filters: the first page for several combinations of status, topic, account, assignee, importance
  and priority; p50/p99 each.

CPU ms per query: the API process's, plus PostgreSQL's (its backends for the API and its shared
processes; `benchmarks/tickets_cpu.py`), over the queries of each line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "tickets")]

from benchmarks import tickets_history_read as history_read  # noqa: E402
from benchmarks.tickets_cpu import CpuMeter  # noqa: E402
from benchmarks.tickets_http import RawHttp, bench_settings  # noqa: E402
from shared.auth import Role, issue_dev_token  # noqa: E402
from shared.natsserver import NatsServer  # noqa: E402
from tickets.bootstrap import migrate  # noqa: E402
from tickets.settings import TicketsSettings  # noqa: E402

ROWS = 100_000
ACCOUNTS = 500
OPEN = ["new", "in_progress", "waiting_for_user"]
TOPICS = history_read.TOPICS

Params = dict[str, Any]
Filter = Callable[[random.Random], Params]

FILTERS: dict[str, Filter] = {
    "status new": lambda rng: {"status": "new"},
    "open + importance high/critical": lambda rng: {"status": OPEN, "importance": ["high", "critical"]},
    "open + topic": lambda rng: {"status": OPEN, "topic": rng.choice(TOPICS)},
    "topic + importance critical": lambda rng: {"topic": rng.choice(TOPICS), "importance": "critical"},
    "account": lambda rng: {"account_id": f"hotel-{rng.randrange(ACCOUNTS):04d}"},
    "account + open": lambda rng: {"account_id": f"hotel-{rng.randrange(ACCOUNTS):04d}", "status": OPEN},
    "assignee + open": lambda rng: {"assignee": f"agent-{rng.randrange(20)}", "status": OPEN},
    "unassigned + open + priority p1/p2": lambda rng: {
        "unassigned": "true",
        "status": OPEN,
        "priority": ["p1", "p2"],
    },
    "priority p1 + importance critical": lambda rng: {"priority": "p1", "importance": "critical"},
    "in progress + topic + priority + importance": lambda rng: {
        "status": "in_progress",
        "topic": rng.choice(TOPICS),
        "priority": rng.choice(["p1", "p2", "p3", "p4"]),
        "importance": rng.choice(["normal", "high"]),
    },
}


def fill(settings: TicketsSettings, rows: int) -> float:
    """The reading benchmark's fill, over `ACCOUNTS` hotel accounts instead of its 2,000."""
    history_read.ACCOUNTS = ACCOUNTS  # its generator reads the module's constant on every row
    return history_read.fill(settings, rows)


async def get_ok(http: RawHttp, path: str, params: Params) -> Any:
    status, _, body = await http.get_json(path, params)
    if status != 200:
        raise RuntimeError(f"{path} {params}: {status} {body}")
    return body


@contextmanager
def metered(meter: CpuMeter, cpu: dict[str, float]) -> Iterator[None]:
    meter.start()
    yield
    cpu.update(meter.stop())


async def measure(
    settings: TicketsSettings, *, pid: int, postgres_dsn: str | None, repeats: int, rows: int
) -> list[tuple[str, list[float], dict[str, float]]]:
    """(name, latencies, CPU seconds by process) per line of the report."""
    token = issue_dev_token(settings.common, role=Role.AGENT, sub="agent-0", name="Agent")
    meter = CpuMeter({"api": pid}, postgres_dsn=postgres_dsn)
    rng = random.Random(11)
    lines: list[tuple[str, list[float], dict[str, float]]] = []
    async with (
        RawHttp("127.0.0.1", settings.port, token=token) as page_http,
        RawHttp("127.0.0.1", settings.port, token=token) as counts_http,
    ):
        for _ in range(20):  # warm up: connections, prepared statements, caches
            await get_ok(page_http, "/api/v1/tickets", {"status": OPEN})
            await get_ok(counts_http, "/api/v1/tickets/counts", {})
        latencies: list[float] = []
        cpu: dict[str, float] = {}
        with metered(meter, cpu):
            for _ in range(repeats):
                started = time.perf_counter()
                page, counts = await asyncio.gather(
                    get_ok(page_http, "/api/v1/tickets", {"status": OPEN}),
                    get_ok(counts_http, "/api/v1/tickets/counts", {}),
                )
                latencies.append(time.perf_counter() - started)
                if counts["total"] != rows or len(page["items"]) != 25:
                    raise RuntimeError(
                        f"unexpected inbox: total {counts['total']}, {len(page['items'])} items"
                    )
        lines.append(("inbox load (page + counts)", latencies, cpu))
        for name, make in FILTERS.items():
            latencies, cpu = [], {}
            with metered(meter, cpu):
                for _ in range(repeats):
                    params = make(rng)
                    started = time.perf_counter()
                    await get_ok(page_http, "/api/v1/tickets", params)
                    latencies.append(time.perf_counter() - started)
            lines.append((f"filter: {name}", latencies, cpu))
            counts_params = {k: v for k, v in make(rng).items() if k != "status"}
            latencies, cpu = [], {}
            with metered(meter, cpu):
                for _ in range(max(1, repeats // 4)):
                    started = time.perf_counter()
                    await get_ok(counts_http, "/api/v1/tickets/counts", counts_params)
                    latencies.append(time.perf_counter() - started)
            lines.append((f"  counts of: {name} (but status)", latencies, cpu))
    return lines


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(backend: str, lines: list[tuple[str, list[float], dict[str, float]]]) -> None:
    for name, latencies, cpu in lines:
        n = len(latencies)
        shares = " ".join(f"{who} {1000 * seconds / n:5.2f}" for who, seconds in sorted(cpu.items()))
        print(
            f"{backend:8} {name:52} n={n:<4} p50={1000 * statistics.median(latencies):6.2f} ms "
            f"p99={1000 * percentile(latencies, 0.99):6.2f} ms  CPU ms/query: {shares}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--backend", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeats", type=int, default=200, help="queries per line of the report")
    parser.add_argument("--postgres-dsn", default=os.environ.get("HELPDESK_TEST_POSTGRES_DSN", ""))
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for backend in args.backend:
        if backend == "postgres" and not args.postgres_dsn:
            print("postgres: skipped (no --postgres-dsn)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            nats_server = NatsServer(store_dir=workdir / "nats").start()
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            dsn = args.postgres_dsn if backend == "postgres" else None
            settings = bench_settings(
                nats_url=nats_server.url, workdir=workdir, postgres_dsn=dsn, schema=schema
            )
            try:
                took = fill(settings, args.rows)
                print(f"{backend:8} {args.rows} requests, {ACCOUNTS} accounts: filled in {took:.1f} s")
                asyncio.run(migrate(settings))
                with history_read.api(settings, workdir) as pid:
                    lines = asyncio.run(
                        measure(settings, pid=pid, postgres_dsn=dsn, repeats=args.repeats, rows=args.rows)
                    )
                report(backend, lines)
            finally:
                nats_server.stop()
                if dsn:
                    import psycopg

                    with psycopg.connect(dsn, autocommit=True) as conn:
                        conn.execute(f'drop schema if exists "{schema}" cascade')


if __name__ == "__main__":
    main()
