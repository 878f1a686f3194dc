"""Chat relay latency: N concurrent conversations across two chat processes on a real nats-server.

Prints the p50/p99 of a message's trip from a user's WebSocket to the specialist's WebSocket (user
process → core NATS → specialist process), beside the raw NATS request/reply latency measured in the
same run, under the same load, from the same client process.

    .venv/bin/python benchmarks/chat_latency.py --conversations 500 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "chat")]

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


async def connect(url: str, token: str) -> Any:
    ws = await websockets.connect(url, open_timeout=30, max_size=2**20, compression=None)
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
            "HELPDESK_CHAT_MAX_CHATS_PER_ACCOUNT": "10000",  # every simulated user is in one account
            "HELPDESK_CHAT_RATE_PER_SECOND": "100",
            "HELPDESK_CHAT_RATE_BURST": "100",
            "HELPDESK_RATE_LIMIT_CHAT_START_PER_ACCOUNT": "1000000",  # every simulated user in one account
            "HELPDESK_CHAT_PUBLISH_STATS": "false",
        }
        procs: list[ChatProcess] = []
        try:
            procs = [start_chat_process(env=env, log_path=Path(tmp) / f"chat-{i}.log") for i in range(2)]
            await measure(args, common, procs, server.url)
        finally:
            for proc in procs:
                proc.stop()
            server.stop()


async def measure(
    args: argparse.Namespace, common: CommonSettings, procs: list[ChatProcess], nats_url: str
) -> None:
    n, n_agents = args.conversations, args.agents
    capacity = -(-n // n_agents)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    assigned = asyncio.Event()
    sessions_by_agent: dict[int, set[str]] = {}

    def token(role: Role, sub: str) -> str:
        return issue_dev_token(
            common, role=role, sub=sub, account_id="hotel-b" if role is Role.USER else None
        )

    async def agent_reader(i: int, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                key = frame["text"]
                started = sent.pop(key, None)
                if started is not None:
                    latencies.append(time.perf_counter() - started)
            elif frame["type"] == "chat_assigned":
                sessions_by_agent.setdefault(i, set()).add(frame["session"])
                if sum(len(s) for s in sessions_by_agent.values()) >= n:
                    assigned.set()

    before = rss_mib(procs)
    agents = []
    for i in range(n_agents):
        ws = await connect(procs[i % 2].ws("agent"), token(Role.AGENT, f"bench-agent-{i}"))
        await ws.recv()  # status
        await ws.send(json.dumps({"type": "available", "capacity": capacity}))
        await ws.recv()
        agents.append(ws)
    readers = [asyncio.create_task(agent_reader(i, ws)) for i, ws in enumerate(agents)]

    async def open_user(i: int) -> tuple[Any, str]:
        ws = await connect(procs[i % 2].ws("user"), token(Role.USER, f"bench-user-{i}"))
        await ws.send(json.dumps({"type": "start", "name": "B", "phone": "+380441234567", "question": "q"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "assigned":
                return ws, str(i)

    started = time.perf_counter()
    users: list[tuple[Any, str]] = []
    for batch in range(0, n, 50):
        users += await asyncio.gather(*(open_user(i) for i in range(batch, min(n, batch + 50))))
    await asyncio.wait_for(assigned.wait(), timeout=60)
    print(
        f"{n} conversations open and assigned in {time.perf_counter() - started:.1f}s "
        f"({n_agents} specialists × capacity {capacity}, 2 chat processes; {load()})"
    )
    after = rss_mib(procs)
    print(
        f"chat processes RSS {' + '.join(f'{b:.0f}' for b in before)} → "
        f"{' + '.join(f'{a:.0f}' for a in after)} MiB: "
        f"{(sum(after) - sum(before)) * 1024 / (n + n_agents):.1f} KiB per open WebSocket "
        f"(a conversation holds the user's and a share of a specialist's)"
    )

    async def drain_user(ws: Any) -> None:
        async for _ in ws:
            pass

    user_drains = [asyncio.create_task(drain_user(ws)) for ws, _ in users]

    # Raw NATS request/reply, same server, same client process, during the same load.
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

    async def talk(ws: Any, ident: str) -> None:
        await asyncio.sleep(args.interval * (hash(ident) % 1000) / 1000)
        deadline = time.perf_counter() + args.duration
        seq = 0
        while time.perf_counter() < deadline:
            key = f"{ident}:{seq}"
            sent[key] = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": key}))
            seq += 1
            await asyncio.sleep(args.interval)

    probe = asyncio.create_task(raw_probe())
    t0 = time.perf_counter()
    await asyncio.gather(*(talk(ws, ident) for ws, ident in users))
    await asyncio.sleep(1.0)
    elapsed = time.perf_counter() - t0
    stop.set()
    await probe

    idle_raw: list[float] = []
    for task in (*readers, *user_drains):
        task.cancel()
    for _ in range(300):
        t1 = time.perf_counter()
        await requester.request(subject, b"x" * 64, timeout=5)
        idle_raw.append(time.perf_counter() - t1)

    lost = len(sent)
    print(f"messages: {len(latencies)} delivered, {lost} not delivered, {len(latencies) / elapsed:.0f} msg/s")
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
    for ws in agents:
        await ws.close()
    for ws, _ in users:
        await ws.close()
    await responder.close()
    await requester.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of talking")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a user's messages")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
