"""Requests created per second through the whole path: HTTP → event store → relay → JetStream →
history view, with create→visible latency and CPU per request summed over every server process.

    .venv/bin/python -m benchmarks.tickets_write_path --backend sqlite postgres --clients 1 32 --seconds 8

Each run starts its own nats-server and one `python -m tickets` (relay and projection in-process, the
default deployment), on SQLite (a fresh data dir) or PostgreSQL (a fresh schema of
`--postgres-dsn`). Phases per backend and concurrency:

1. saturation: `clients` loops create requests back to back for `--seconds`; throughput counts a
   request once it is visible in the history view (the run ends when the view has caught up);
2. create → visible at half load (32 clients; unloaded, 20/s, with 1): creates paced at half the
   saturation's visible rate (or `--rate`) for up to 5 s, an open loop on 64 keep-alive
   connections. For EVERY create: from its 201 read by this process ("accepted") to the projector's
   "applied" notice naming the ticket at that version, heard by this process; the notice is sent
   after the history view's transaction committed, so from then the account's list shows the
   ticket (a notice heard before the 201 was read counts as 0). `missing`: creates never announced
   within 10 s after the last one. For one create in `--read-every` (10; 0 for none) the client also
   sends a read-your-writes list read (`ticket_id` + `min_version`, the browser's read after its
   create) on the same connection: accepted → that read answered with `X-History-Consistent: true`
   (`not shown` counts reads that gave up waiting). So the read path is proven end to end while the
   load stays the creates plus a tenth as many reads: "half load" is half of the creates-only
   saturation, not near the loop's saturation (`--read-every 1`, a read after each create, doubles
   the requests; that was this phase's former form). Also printed: create sent → answered, and
   stored → in JetStream (the event's occurred-at to its JetStream timestamp: the relay's share), and
   the API process's CPU a create in this phase (reads included: compare it with the saturation's).

CPU: utime+stime from /proc/<pid>/stat, before and after, of the API process (and the relay and
projector with `--split`), nats-server, and the PostgreSQL backends serving those processes plus the
server's shared processes (WAL writer, checkpointer, …), divided by the requests created. The
server is shared with other sessions on this machine; their backends are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "tickets")]

from benchmarks.pgschema import fresh_schema  # noqa: E402
from benchmarks.tickets_cpu import CpuMeter  # noqa: E402
from benchmarks.tickets_http import RawHttp, bench_settings, multipart, service_env  # noqa: E402
from shared.auth import Role, issue_dev_token  # noqa: E402
from shared.natsserver import NatsServer, wait_for_port  # noqa: E402
from tickets.bootstrap import migrate  # noqa: E402
from tickets.settings import TicketsSettings  # noqa: E402


@contextmanager
def service(
    backend: str, *, postgres_dsn: str, workdir: Path, profile: Path | None = None, split: bool = False
) -> Iterator[tuple[TicketsSettings, CpuMeter]]:
    dsn = postgres_dsn if backend == "postgres" else None
    with fresh_schema(dsn) as schema, _processes(dsn, schema, workdir, profile, split) as running:
        yield running


@contextmanager
def _processes(
    dsn: str | None, schema: str | None, workdir: Path, profile: Path | None, split: bool
) -> Iterator[tuple[TicketsSettings, CpuMeter]]:
    nats_server = NatsServer(store_dir=workdir / "nats", sync_always=False).start()
    settings = bench_settings(nats_url=nats_server.url, workdir=workdir, postgres_dsn=dsn, schema=schema)
    asyncio.run(migrate(settings))
    env = service_env(settings)
    log = (workdir / "api.log").open("ab")
    command = [sys.executable, "-m", "tickets"]
    if profile is not None:  # the event loop's thread only: what the API process spends its CPU on
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "tickets"]
    workers: dict[str, subprocess.Popen[bytes]] = {}
    if split:  # the relay and the projection as their own processes
        env = service_env(settings, run_workers=False)
        for name in ("relay", "projector"):
            workers[name] = subprocess.Popen(
                [sys.executable, "-m", f"tickets.{name}"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
    api = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_port("127.0.0.1", settings.port, timeout=60)
        assert nats_server.process is not None
        meter = CpuMeter(
            {
                "api": api.pid,
                **{name: proc.pid for name, proc in workers.items()},
                "nats": nats_server.process.pid,
                "load-generator": os.getpid(),
            },
            postgres_dsn=dsn,
        )
        yield settings, meter
    finally:
        # SIGINT: uvicorn re-raises it after its graceful shutdown as KeyboardInterrupt, which lets
        # cProfile write its file (a re-raised SIGTERM would end the process before that).
        api.send_signal(signal.SIGINT if profile is not None else signal.SIGTERM)
        api.wait(timeout=60)
        for proc in workers.values():
            proc.terminate()
            proc.wait(timeout=30)
        nats_server.stop()


def token(settings: TicketsSettings, account: str) -> str:
    return issue_dev_token(settings.common, role=Role.USER, sub=f"u-{account}", account_id=account)


HALF_LOAD_ACCOUNT = "hotel-half-load"
FORM = multipart({"topic": "reports", "comment": "bench", "message": "numbers do not add up"})


async def create(http: RawHttp) -> dict[str, Any]:
    status, _, data = await http.request("POST", "/api/v1/tickets", body=FORM[0], content_type=FORM[1])
    if status != 201:
        raise RuntimeError(f"create failed: {status} {data[:200]!r}")
    result: dict[str, Any] = json.loads(data)
    return result


async def visible(http: RawHttp, created: dict[str, Any]) -> bool:
    params = {"ticket_id": created["ticket_id"], "min_version": created["version"], "limit": 1}
    _, headers, _ = await http.get_json("/api/v1/tickets", params)
    return headers.get("x-history-consistent") == "true"


async def saturate(
    settings: TicketsSettings, meter: CpuMeter, *, clients: int, seconds: float
) -> dict[str, Any]:
    bearer = token(settings, "hotel-bench")
    connections = [RawHttp("127.0.0.1", settings.port, token=bearer) for _ in range(clients)]
    for connection in connections:
        await connection.__aenter__()
    try:
        await create(connections[0])  # warm up
        last: list[dict[str, Any]] = []
        count = 0
        meter.start()
        started = time.perf_counter()
        deadline = started + seconds

        async def loop(http: RawHttp) -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                result = await create(http)
                count += 1
                last[:] = [result]

        await asyncio.gather(*(loop(c) for c in connections))
        accepted_at = time.perf_counter()
        while not await visible(connections[0], last[0]):
            pass
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
    finally:
        for connection in connections:
            await connection.__aexit__()
    return {
        "requests": count,
        "accepted_per_s": count / (accepted_at - started),
        "visible_per_s": count / elapsed,
        "cpu_ms_per_request": {k: 1000 * v / count for k, v in cpu.items()},
        "cpu_ms_total_per_request": 1000 * sum(v for k, v in cpu.items() if k != "load-generator") / count,
    }


async def paced(
    settings: TicketsSettings,
    *,
    account: str,
    rate: float,
    seconds: float,
    work: Callable[[RawHttp], Awaitable[None]],
) -> float:
    """Start `work(connection)` `rate` times a second for `seconds` on a pool of 64 keep-alive
    connections (an open loop: a slow answer does not slow the pace); returns when all are done, with
    the start time."""
    bearer = token(settings, account)
    pool: asyncio.Queue[RawHttp] = asyncio.Queue()
    opened = []
    for _ in range(64):
        connection = await RawHttp("127.0.0.1", settings.port, token=bearer).__aenter__()
        opened.append(connection)
        pool.put_nowait(connection)

    async def one() -> None:
        http = await pool.get()
        try:
            await work(http)
        finally:
            pool.put_nowait(http)

    tasks = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        tasks.append(asyncio.create_task(one()))
        i += 1
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    for connection in opened:
        await connection.__aexit__()
    return started


async def visibility(
    settings: TicketsSettings, meter: CpuMeter, *, rate: float, seconds: float, read_every: int
) -> dict[str, float]:
    """Creates paced at `rate`/s for `seconds` (an open loop); see the module's docstring, phase 2."""
    import nats

    from tickets.projections.notices import applied_subject

    seen: dict[str, tuple[int, float]] = {}  # ticket id → (version, first heard at)
    accepted: list[tuple[str, int, float]] = []  # ticket id, version, its 201 read at
    answered: list[float] = []  # create sent → its 201 read
    read: list[float] = []  # create's 201 read → the list read answered, ticket in view
    not_shown = 0  # sampled list reads that gave up waiting (`X-History-Consistent: false`)

    async def on_notice(msg: Any) -> None:
        now = time.perf_counter()
        for ticket_id, version in json.loads(msg.data)["versions"].items():
            if ticket_id not in seen or seen[ticket_id][0] < version:
                seen[ticket_id] = (version, now)

    nc = await nats.connect(settings.common.nats_url)
    await nc.subscribe(applied_subject(settings.common.nats_prefix), cb=on_notice)
    count = 0

    async def create_and_maybe_read(http: RawHttp) -> None:
        nonlocal count, not_shown
        count += 1
        sampled = read_every > 0 and count % read_every == 0
        sent = time.perf_counter()
        created = await create(http)
        at = time.perf_counter()
        answered.append(at - sent)
        accepted.append((str(created["ticket_id"]), int(created["version"]), at))
        if sampled:
            if await visible(http, created):
                read.append(time.perf_counter() - at)
            else:
                not_shown += 1

    meter.start()
    started = await paced(
        settings, account=HALF_LOAD_ACCOUNT, rate=rate, seconds=seconds, work=create_and_maybe_read
    )
    api_cpu = meter.stop()["api"]
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and any(seen.get(t, (0, 0.0))[0] < v for t, v, _ in accepted):
        await asyncio.sleep(0.01)
    await nc.close()
    # A notice heard before the create's answer was read: visible when accepted (0, not negative).
    notices = [max(0.0, seen[t][1] - at) for t, v, at in accepted if seen.get(t, (0, 0.0))[0] >= v]
    relay = await relay_delays(settings, since=started, account=HALF_LOAD_ACCOUNT)
    return (
        {
            "rate": rate,
            "missing": len(accepted) - len(notices),
            "not_shown": not_shown,
            "api_cpu_ms_per_create": 1000 * api_cpu / max(1, len(accepted)),
        }
        | percentiles(notices, "")
        | percentiles(read, "read_")
        | percentiles(answered, "create_")
        | percentiles(relay, "relay_")
    )


def percentiles(samples: list[float], prefix: str) -> dict[str, float]:
    samples = sorted(samples)
    if not samples:
        return {}
    return {
        f"{prefix}n": len(samples),
        f"{prefix}p50_ms": 1000 * statistics.median(samples),
        f"{prefix}p99_ms": 1000 * samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }


async def relay_delays(settings: TicketsSettings, *, since: float, account: str) -> list[float]:
    """For the last run's events: stored in JetStream minus occurred (the relay's share of the delay)."""
    import nats

    from tickets.adapters.relay import tickets_stream_name

    nc = await nats.connect(settings.common.nats_url)
    try:
        js = nc.jetstream()
        stream = tickets_stream_name(settings.common.nats_prefix)
        info = await js.stream_info(stream)
        delays = []
        for seq in range(max(1, info.state.last_seq - 2000), info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq=seq)
            body = json.loads(msg.data or b"{}")
            if body.get("account_id") != account or msg.time is None:
                continue
            occurred = datetime.fromisoformat(body["occurred_at"])
            delays.append((msg.time - occurred).total_seconds())
        return delays
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--postgres-dsn", default=os.environ.get("HELPDESK_TEST_POSTGRES_DSN", ""))
    parser.add_argument("--profile", action="store_true", help="run the API under cProfile, print the top")
    parser.add_argument("--split", action="store_true", help="relay and projection in their own processes")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="creates/s of the latency phase (default: half the saturation): compare runs at one pace",
    )
    parser.add_argument(
        "--read-every",
        type=int,
        default=10,
        help="one create in N followed by a read-your-writes list read (0: none; 1: every create)",
    )
    args = parser.parse_args()
    for backend in args.backend:
        if backend == "postgres" and not args.postgres_dsn:
            print("postgres: skipped (no --postgres-dsn)")
            continue
        profile = Path(tempfile.mkdtemp()) / f"api-{backend}.prof" if args.profile else None
        with (
            tempfile.TemporaryDirectory() as tmp,
            service(
                backend, postgres_dsn=args.postgres_dsn, workdir=Path(tmp), profile=profile, split=args.split
            ) as (
                settings,
                meter,
            ),
        ):
            for clients in args.clients:
                load = os.getloadavg()[0]
                result = asyncio.run(saturate(settings, meter, clients=clients, seconds=args.seconds))
                cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["cpu_ms_per_request"].items())
                # load-generator: this process, not counted in the total
                print(
                    f"{backend:8} clients={clients:<3} created={result['requests']:<6} "
                    f"accepted/s={result['accepted_per_s']:7.1f} visible/s={result['visible_per_s']:7.1f} "
                    f"cpu ms/req={result['cpu_ms_total_per_request']:.2f} ({cpu}) (load {load:.1f})"
                )
                rate = result["visible_per_s"] / 2 if clients > 1 else 20.0
                if args.rate is not None and clients > 1:
                    rate = args.rate
                load = os.getloadavg()[0]
                phase = min(args.seconds, 5.0)
                every = args.read_every
                half = asyncio.run(visibility(settings, meter, rate=rate, seconds=phase, read_every=every))
                reads = f"1 in {args.read_every}" if args.read_every else "none"
                print(
                    f"{backend:8} at {half['rate']:.0f} creates/s, list reads: {reads} (load {load:.1f}): "
                    f"create→visible (projector notice, every create) n={half.get('n', 0)} "
                    f"p50={half.get('p50_ms', 0):.1f} ms p99={half.get('p99_ms', 0):.1f} ms "
                    f"missing={half['missing']}; API CPU {half['api_cpu_ms_per_create']:.2f} ms a create"
                )
                print(
                    f"{backend:8}   create→list read shows it n={half.get('read_n', 0)} "
                    f"p50={half.get('read_p50_ms', 0):.1f} ms p99={half.get('read_p99_ms', 0):.1f} ms "
                    f"not shown={half['not_shown']}; create answered p50={half.get('create_p50_ms', 0):.1f} "
                    f"ms p99={half.get('create_p99_ms', 0):.1f} ms; stored→in JetStream "
                    f"p50={half.get('relay_p50_ms', 0):.1f} ms p99={half.get('relay_p99_ms', 0):.1f} ms"
                )
        if profile is not None:
            import pstats

            print(f"--- {backend}: API event-loop thread, by own time ---")
            pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)
            print(f"--- {backend}: API event-loop thread, cumulative ---")
            pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
