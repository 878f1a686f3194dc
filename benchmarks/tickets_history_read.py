"""The history list under read load with 1,000,000 requests in the view (2,000 hotel accounts).

    .venv/bin/python -m benchmarks.tickets_history_read --backend sqlite postgres --rows 1000000 --seconds 10

Rows are generated straight into the view's tables (then its indexes are built by the same migration
the service runs), then one `python -m tickets` (relay and projection off) serves
`GET /api/v1/tickets` to `--clients` concurrent connections for `--seconds`: a mix of hotel users'
filtered, paginated lists (own account, status, date range, next page by cursor) and support's lists
across every account (status, unassigned, priority, one account, a day, topic). Prints queries per
second and p50/p99 latency, overall and per kind of query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "tickets")]

from benchmarks.tickets_http import RawHttp, bench_settings, service_env  # noqa: E402
from shared.auth import Role, issue_dev_token  # noqa: E402
from shared.days import to_micros  # noqa: E402
from shared.natsserver import NatsServer, wait_for_port  # noqa: E402
from tickets.bootstrap import migrate  # noqa: E402
from tickets.entrypoints.workers import open_history_store  # noqa: E402
from tickets.projections.store import DDL, TICKET_COLUMNS  # noqa: E402
from tickets.settings import DEFAULT_TOPICS, TicketsSettings  # noqa: E402

ACCOUNTS = 2000
TOPICS = sorted(DEFAULT_TOPICS)
STATUSES = ["new"] * 2 + ["in_progress"] * 3 + ["waiting_for_user"] * 2 + ["resolved"] * 5 + ["closed"] * 8
START = datetime(2025, 1, 1, tzinfo=UTC)


def generate(rows: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    agents = [f"agent-{i}" for i in range(20)]
    for n in range(rows):
        created = START + timedelta(seconds=rng.randrange(365 * 86400))
        updated = created + timedelta(seconds=rng.randrange(30 * 86400))
        status = rng.choice(STATUSES)
        assignee = rng.choice(agents) if status != "new" and rng.random() < 0.8 else None
        yield (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            f"hotel-{n % ACCOUNTS:04d}",
            f"HD-{n + 1:07d}",
            rng.choice(TOPICS),
            status,
            rng.choice(["low", "normal", "normal", "high", "critical"]),
            rng.choice([None, "p1", "p2", "p3", "p4"]),
            assignee,
            assignee.title() if assignee else None,
            f"request {n}",
            to_micros(created),
            to_micros(updated),
            rng.randrange(1, 12),
        )


def fill(settings: TicketsSettings, rows: int) -> float:
    """Write `rows` straight into the view, then build its indexes; return the seconds it took."""
    started = time.perf_counter()
    store: Any = open_history_store(settings)
    tables = [s for s in DDL if s.startswith("CREATE TABLE")]
    if store.dialect == "sqlite":
        with store.db.connection() as conn:
            conn.execute("PRAGMA synchronous=OFF")
            for statement in tables:
                conn.execute(statement)
            conn.execute("BEGIN")
            conn.executemany(
                f"INSERT INTO history_tickets ({TICKET_COLUMNS}) VALUES ({','.join('?' * 13)})",  # noqa: S608
                generate(rows),
            )
            conn.execute("COMMIT")
    else:
        with store.db.connection() as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{store.db.schema}"')
            for statement in tables:
                conn.execute(statement)
            with conn.cursor().copy(f"COPY history_tickets ({TICKET_COLUMNS}) FROM STDIN") as copy:
                for row in generate(rows):
                    copy.write_row(row)
    store.migrate()  # the indexes, as the service creates them
    if store.dialect == "postgres":
        with store.db.connection() as conn:
            # A view that has been live for a while is mostly all-visible (autovacuum): set the
            # visibility map as it would be, so index-only scans are measured as they would run.
            conn.execute("VACUUM ANALYZE history_tickets")
    else:
        with store.db.connection() as conn:
            conn.execute("ANALYZE")
    store.close()
    return time.perf_counter() - started


Query = Callable[[random.Random], tuple[str, str, dict[str, Any]]]


def user_queries() -> dict[str, Query]:
    def day(rng: random.Random) -> str:
        return (date(2025, 1, 1) + timedelta(days=rng.randrange(365))).isoformat()

    return {
        "user: own list": lambda rng: ("user", "", {}),
        "user: status": lambda rng: ("user", "", {"status": rng.choice(["resolved", "closed", "new"])}),
        "user: date range + status": lambda rng: (
            "user",
            "",
            {"date_from": day(rng), "date_to": "2025-12-31", "status": "closed"},
        ),
        "user: next page": lambda rng: ("user", "page2", {"limit": 10}),
        "agent: all": lambda rng: ("agent", "", {}),
        "agent: status new": lambda rng: ("agent", "", {"status": "new"}),
        "agent: unassigned in progress": lambda rng: (
            "agent",
            "",
            {"unassigned": "true", "status": "in_progress"},
        ),
        "agent: priority p1": lambda rng: ("agent", "", {"priority": "p1"}),
        "agent: one account": lambda rng: (
            "agent",
            "",
            {"account_id": f"hotel-{rng.randrange(ACCOUNTS):04d}"},
        ),
        "agent: a day": lambda rng: ("agent", "", {"date": day(rng)}),
        "agent: topic + status": lambda rng: (
            "agent",
            "",
            {"topic": rng.choice(TOPICS), "status": "waiting_for_user"},
        ),
        "agent: assignee deep page": lambda rng: (
            "agent",
            "page2",
            {"assignee": f"agent-{rng.randrange(20)}"},
        ),
    }


async def read_load(settings: TicketsSettings, *, clients: int, seconds: float) -> dict[str, list[float]]:
    queries = user_queries()
    agent_token = issue_dev_token(settings.common, role=Role.AGENT, sub="agent-0")
    results: dict[str, list[float]] = defaultdict(list)
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        rng = random.Random(index)
        account = f"hotel-{rng.randrange(ACCOUNTS):04d}"
        user_token = issue_dev_token(settings.common, role=Role.USER, sub=f"u{index}", account_id=account)
        async with (
            RawHttp("127.0.0.1", settings.port, token=user_token) as user,
            RawHttp("127.0.0.1", settings.port, token=agent_token) as agent,
        ):
            names = list(queries)
            while time.perf_counter() < deadline:
                name = rng.choice(names)
                who, mode, params = queries[name](rng)
                http = user if who == "user" else agent
                started = time.perf_counter()
                status, _, body = await http.get_json("/api/v1/tickets", params)
                if status == 200 and mode == "page2" and body["next_cursor"]:
                    status, _, body = await http.get_json(
                        "/api/v1/tickets", {**params, "cursor": body["next_cursor"]}
                    )
                if status != 200:
                    raise RuntimeError(f"{name}: {status} {body}")
                results[name].append(time.perf_counter() - started)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return results


@contextmanager
def api(settings: TicketsSettings, workdir: Path) -> Iterator[int]:
    """`python -m tickets` (no relay, no projection) on `settings.port`; yields its pid."""
    env = service_env(settings, run_workers=False)
    log = (workdir / "api.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "tickets"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_port("127.0.0.1", settings.port, timeout=60)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def report(backend: str, results: dict[str, list[float]], seconds: float) -> None:
    everything = sorted(v for values in results.values() for v in values)
    p99 = everything[int(len(everything) * 0.99)]
    print(
        f"{backend:11} all: {len(everything) / seconds:7.1f} queries/s "
        f"p50={1000 * statistics.median(everything):.1f} ms p99={1000 * p99:.1f} ms"
    )
    for name, values in sorted(results.items()):
        values.sort()
        print(
            f"{backend:11}   {name:32} n={len(values):<5} p50={1000 * statistics.median(values):6.1f} ms "
            f"p99={1000 * values[int(len(values) * 0.99)]:6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres-dsn", default=os.environ.get("HELPDESK_TEST_POSTGRES_DSN", ""))
    args = parser.parse_args()
    for backend in args.backend:
        if backend == "postgres" and not args.postgres_dsn:
            print("postgres: skipped (no --postgres-dsn)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            nats_server = NatsServer(store_dir=workdir / "nats").start()
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            settings = bench_settings(
                nats_url=nats_server.url,
                workdir=workdir,
                postgres_dsn=args.postgres_dsn if backend == "postgres" else None,
                schema=schema,
            )
            try:
                took = fill(settings, args.rows)
                print(f"{backend:8} {args.rows} rows written and indexed in {took:.1f} s")
                asyncio.run(migrate(settings))
                with api(settings, workdir):
                    for clients in args.clients:
                        results = asyncio.run(read_load(settings, clients=clients, seconds=args.seconds))
                        report(f"{backend} x{clients}", results, args.seconds)
            finally:
                nats_server.stop()
                if backend == "postgres":
                    import psycopg

                    with psycopg.connect(args.postgres_dsn, autocommit=True) as conn:
                        conn.execute(f'drop schema if exists "{schema}" cascade')


if __name__ == "__main__":
    main()
