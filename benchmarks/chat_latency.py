"""Chat relay latency: N concurrent conversations across two chat processes on a real nats-server.

Prints the p50/p99 of a message's trip from a user's WebSocket to the specialist's WebSocket (user
process → core NATS → specialist process), beside the raw NATS request/reply latency measured in the
same run, under the same load, from the same client process; the chat processes' memory per open
WebSocket; messages not delivered (must be 0).

The default rate is a realistic chat (each user writes every 20 s); `--interval 2` is a stress rate,
ten times that. Users belong to hotel accounts of `--users-per-account` (the default cap of open chats
per account is 5). `--py-spy DIR` records a profile of each chat process while the users talk
(py-spy installed apart from the project, e.g. `python -m venv /tmp/prof && /tmp/prof/bin/pip
install py-spy`; `--py-spy-bin` names it).

    .venv/bin/python benchmarks/chat_latency.py --conversations 5000 --duration 40
    .venv/bin/python benchmarks/chat_latency.py --conversations 5000 --duration 12 --interval 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import nats
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "chat")]

from chat.adapters.directory import bucket_name  # noqa: E402
from chat.bootstrap import migrate  # noqa: E402
from chat.settings import ChatSettings  # noqa: E402
from shared.auth import Role, issue_dev_token  # noqa: E402
from shared.natsserver import NatsServer  # noqa: E402
from shared.settings import CommonSettings, Environment  # noqa: E402
from tests.support.chat import ChatProcess, start_chat_process  # noqa: E402

SECRET = "benchmark-secret-that-is-long-enough-0123456789"  # noqa: S105 -- a throwaway test server
PREFIX = "chatbench"


def rss_mib(procs: list[ChatProcess]) -> list[float]:
    out = []
    for proc in procs:
        for line in Path(f"/proc/{proc.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out.append(int(line.split()[1]) / 1024)
    return out


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def raise_fd_limit() -> None:
    """Every user's and specialist's socket is a file descriptor of this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def connect(url: str, token: str, *, deflate: bool = False) -> Any:
    compression = "deflate" if deflate else None  # browsers offer permessage-deflate
    ws = await websockets.connect(url, open_timeout=30, max_size=2**20, compression=compression)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await ws.recv())["type"] == "ready"
    return ws


async def run(args: argparse.Namespace) -> None:
    common = CommonSettings(environment=Environment.TEST, jwt_secret=SECRET, nats_prefix=PREFIX)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        common = common.model_copy(update={"nats_url": server.url})
        await migrate(ChatSettings(common=common))
        env = {
            "HELPDESK_ENVIRONMENT": "test",
            "HELPDESK_NATS_URL": server.url,
            "HELPDESK_NATS_PREFIX": PREFIX,
            "HELPDESK_JWT_SECRET": SECRET,
            "HELPDESK_LOG_LEVEL": "WARNING",
            "HELPDESK_CHAT_MAX_CAPACITY": "1000",
            "HELPDESK_CHAT_MAX_CHATS_PER_ACCOUNT": str(max(5, args.users_per_account)),
            "HELPDESK_CHAT_RATE_PER_SECOND": "100",
            "HELPDESK_CHAT_RATE_BURST": "100",
            "HELPDESK_RATE_LIMIT_CHAT_START_PER_ACCOUNT": "1000000",
            "HELPDESK_CHAT_PUBLISH_STATS": "false",
        }
        procs: list[ChatProcess] = []
        try:
            procs = [start_chat_process(env=env, log_path=Path(tmp) / f"chat-{i}.log") for i in range(2)]
            print(f"chat processes {' and '.join(str(p.process.pid) for p in procs)}; {load()}")
            await measure(args, common, procs, server.url)
        except BaseException:
            for proc in procs:
                print(f"--- the end of {proc.log_path.name}:", *proc.log().splitlines()[-15:], sep="\n")
            raise
        finally:
            for proc in procs:
                proc.stop()
            server.stop()


def user_token(secret_common: CommonSettings, i: int, per_account: int) -> str:
    return issue_dev_token(
        secret_common, role=Role.USER, sub=f"bench-user-{i}", account_id=f"hotel-{i // per_account}"
    )


def users_worker(w: int, urls: list[str], args: argparse.Namespace, pipe: Connection) -> None:
    """One client process: opens its share of the users (every `--clients`-th), then on "go" each
    writes every `--interval` s for `--duration` s; the text carries its send time (perf_counter is
    the system's monotonic clock, the same in every process)."""
    raise_fd_limit()
    common = CommonSettings(environment=Environment.TEST, jwt_secret=SECRET, nats_prefix=PREFIX)  # type: ignore[arg-type]
    asyncio.run(_users(w, urls, args, pipe, common))


async def _users(
    w: int, urls: list[str], args: argparse.Namespace, pipe: Connection, common: CommonSettings
) -> None:
    mine = range(w, args.conversations, args.clients)

    async def open_user(i: int) -> Any:
        ws = await connect(urls[i % 2], user_token(common, i, args.users_per_account), deflate=args.deflate)
        await ws.send(json.dumps({"type": "start", "name": "B", "phone": "+380441234567", "question": "q"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "assigned":
                return ws
            if frame["type"] in {"error", "ended", "no_specialist", "outside_hours"}:
                raise RuntimeError(f"user {i} was not assigned: {frame}")

    users: list[tuple[Any, int]] = []
    for batch in range(0, len(mine), 25):
        chunk = mine[batch : batch + 25]
        opened = await asyncio.wait_for(asyncio.gather(*(open_user(i) for i in chunk)), timeout=120)
        users += zip(opened, chunk, strict=True)
    pipe.send(("open", len(users)))
    await asyncio.to_thread(pipe.recv)  # "go"

    async def drain(ws: Any) -> None:
        async for _ in ws:
            pass

    drains = [asyncio.create_task(drain(ws)) for ws, _ in users]
    sent = 0

    async def talk(ws: Any, i: int) -> None:
        nonlocal sent
        await asyncio.sleep(args.interval * (i * 7919 % 1000) / 1000)
        deadline = time.perf_counter() + args.duration
        seq = 0
        while time.perf_counter() < deadline:
            await ws.send(json.dumps({"type": "message", "text": f"{i}:{seq}:{time.perf_counter():.6f}"}))
            sent += 1
            seq += 1
            await asyncio.sleep(args.interval)

    cpu0 = time.process_time()
    await asyncio.gather(*(talk(ws, i) for ws, i in users))
    pipe.send(("sent", sent, time.process_time() - cpu0))
    await asyncio.to_thread(pipe.recv)  # "close"
    for task in drains:
        task.cancel()
    for ws, _ in users:
        await ws.close()


async def measure(
    args: argparse.Namespace, common: CommonSettings, procs: list[ChatProcess], nats_url: str
) -> None:
    n = args.conversations
    # A presence entry lists its chats and the bucket takes 16 KiB a value: ~450 chats a specialist.
    n_agents = args.agents or max(10, -(-n // 100))
    capacity = -(-n // n_agents)
    delivered: set[str] = set()
    latencies: list[float] = []
    assigned = asyncio.Event()
    sessions_by_agent: dict[int, set[str]] = {}

    async def agent_reader(i: int, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                now = time.perf_counter()
                key, _, at = frame["text"].rpartition(":")
                if key not in delivered:
                    delivered.add(key)
                    latencies.append(now - float(at))
            elif frame["type"] == "chat_assigned":
                sessions_by_agent.setdefault(i, set()).add(frame["session"])
                if sum(len(s) for s in sessions_by_agent.values()) >= n:
                    assigned.set()

    before = rss_mib(procs)
    agents = []
    for i in range(n_agents):
        token = issue_dev_token(common, role=Role.AGENT, sub=f"bench-agent-{i}")
        ws = await connect(procs[i % 2].ws("agent"), token)
        await ws.recv()  # status
        await ws.send(json.dumps({"type": "available", "capacity": capacity}))
        await ws.recv()
        agents.append(ws)
    readers = [asyncio.create_task(agent_reader(i, ws)) for i, ws in enumerate(agents)]

    started = time.perf_counter()
    cpu_opening = [cpu_seconds(proc) for proc in procs]
    spawn = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    urls = [proc.ws("user") for proc in procs]
    for w in range(args.clients):
        mine, theirs = spawn.Pipe()
        worker = spawn.Process(target=users_worker, args=(w, urls, args, theirs), daemon=True)
        worker.start()
        pipes.append(mine)
        workers.append(worker)

    async def reply(pipe: Connection, timeout: float) -> Any:
        ready = await asyncio.to_thread(pipe.poll, timeout)
        if not ready:
            raise TimeoutError("a client process did not answer")
        return pipe.recv()

    try:
        opened = [(await reply(pipe, 60 + n / 5))[1] for pipe in pipes]
        assert sum(opened) == n, opened
        await asyncio.wait_for(assigned.wait(), timeout=120)
        print(
            f"{n} conversations open and assigned in {time.perf_counter() - started:.1f}s "
            f"({n_agents} specialists × capacity {capacity}, 2 chat processes, users held by "
            f"{args.clients} client processes; {load()}); chat processes' CPU "
            f"{sum(cpu_seconds(p) - c for p, c in zip(procs, cpu_opening, strict=True)) * 1000 / n:.1f} ms "
            f"per conversation opened"
        )
        after = rss_mib(procs)
        per_proc = [
            f"{(a - b) * 1024 / len(range(i, n, 2)):.1f}"
            for i, (b, a) in enumerate(zip(before, after, strict=True))
        ]
        print(
            f"chat processes RSS {' + '.join(f'{b:.0f}' for b in before)} → "
            f"{' + '.join(f'{a:.0f}' for a in after)} MiB: "
            f"{(sum(after) - sum(before)) * 1024 / (n + n_agents):.1f} KiB per open WebSocket "
            f"({' / '.join(per_proc)} KiB per user socket by process; a conversation holds the user's "
            f"and a share of a specialist's)"
        )
        await talk_and_report(args, procs, nats_url, pipes, latencies, delivered)
        for pipe in pipes:
            pipe.send("close")
        for worker in workers:
            await asyncio.to_thread(worker.join, 30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        for task in readers:
            task.cancel()
        for ws in agents:
            await ws.close()


async def talk_and_report(
    args: argparse.Namespace,
    procs: list[ChatProcess],
    nats_url: str,
    pipes: list[Connection],
    latencies: list[float],
    delivered: set[str],
) -> None:
    # Raw NATS request/reply, same server, during the same load.
    responder = await nats.connect(nats_url)
    requester = await nats.connect(nats_url)
    subject = f"{PREFIX}.bench.echo.{uuid.uuid4().hex}"

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

    await responder.subscribe(subject, cb=echo)
    await responder.flush()
    raw: list[float] = []
    stop = asyncio.Event()

    async def raw_probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await requester.request(subject, b"x" * 64, timeout=5)
            raw.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)

    probe = asyncio.create_task(raw_probe())
    bucket = await requester.jetstream().key_value(bucket_name(PREFIX, "CHAT"))
    writes_before = (await bucket.status()).stream_info.state.last_seq
    profilers = start_profilers(args, procs)
    cpu_before = [cpu_seconds(proc) for proc in procs]
    t0 = time.perf_counter()
    for pipe in pipes:
        pipe.send("go")
    reports = [await asyncio.to_thread(pipe.recv) for pipe in pipes]
    sent = sum(r[1] for r in reports)
    for _ in range(100):  # up to 5 s for the last ones in flight
        if len(delivered) >= sent:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    cpu = [cpu_seconds(proc) - c for proc, c in zip(procs, cpu_before, strict=True)]
    kv_writes = (await bucket.status()).stream_info.state.last_seq - writes_before
    stop.set()
    await probe
    for profiler in profilers:
        await asyncio.to_thread(profiler.wait)
    idle_raw: list[float] = []
    for _ in range(300):
        t1 = time.perf_counter()
        await requester.request(subject, b"x" * 64, timeout=5)
        idle_raw.append(time.perf_counter() - t1)
    await responder.close()
    await requester.close()

    print(
        f"messages: {len(delivered)} delivered, {sent - len(delivered)} not delivered, "
        f"{len(delivered) / elapsed:.0f} msg/s (every user writes every {args.interval:g} s); "
        f"CPU of the chat processes {' + '.join(f'{c:.1f}' for c in cpu)} s in {elapsed:.1f} s, "
        f"{sum(cpu) * 1000 / max(1, len(delivered)):.2f} ms per message; of the client processes "
        f"{' + '.join(f'{r[2]:.1f}' for r in reports)} s"
    )
    print(
        f"directory (KV) writes while talking: {kv_writes} ({kv_writes / elapsed:.0f}/s, each decoded by "
        f"every chat process's mirror)"
    )
    print(
        f"user→specialist  p50 {pct(latencies, 0.5):7.2f} ms   p99 {pct(latencies, 0.99):7.2f} ms   "
        f"max {max(latencies) * 1000:7.2f} ms"
    )
    print(
        f"raw NATS req/rep p50 {pct(raw, 0.5):7.2f} ms   p99 {pct(raw, 0.99):7.2f} ms   "
        "(same run, under load)"
    )
    print(
        f"raw NATS req/rep p50 {pct(idle_raw, 0.5):7.2f} ms   p99 {pct(idle_raw, 0.99):7.2f} ms   "
        "(after the load)"
    )
    print(
        f"ratio p99 chat / p99 raw under load: {pct(latencies, 0.99) / pct(raw, 0.99):.1f}×; "
        f"mean chat {statistics.mean(latencies) * 1000:.2f} ms ({load()})"
    )


def cpu_seconds(proc: ChatProcess) -> float:
    fields = Path(f"/proc/{proc.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_profilers(args: argparse.Namespace, procs: list[ChatProcess]) -> list[subprocess.Popen[bytes]]:
    if args.py_spy is None:
        return []
    args.py_spy.mkdir(parents=True, exist_ok=True)
    seconds = str(max(1, int(args.duration)))
    return [
        subprocess.Popen(
            [
                args.py_spy_bin,
                "record",
                "--pid",
                str(proc.process.pid),
                "--duration",
                seconds,
                "--format",
                "raw",
                "--output",
                str(args.py_spy / f"chat-{i}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, proc in enumerate(procs)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument(
        "--agents",
        type=int,
        default=None,
        help="specialists (default: one per 100 conversations, at least 10)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of talking")
    parser.add_argument(
        "--interval", type=float, default=20.0, help="seconds between a user's messages (2: stress)"
    )
    parser.add_argument("--users-per-account", type=int, default=4)
    parser.add_argument(
        "--deflate", action="store_true", help="users offer permessage-deflate, as browsers do"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes holding the users")
    parser.add_argument("--py-spy", type=Path, default=None, help="write a py-spy profile per process here")
    parser.add_argument("--py-spy-bin", default="py-spy")
    raise_fd_limit()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout`: still stop the chat processes
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
