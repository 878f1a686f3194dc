"""Benchmark of the scaled-out system: replicas of every service on a 3-node NATS cluster, PostgreSQL,
with or without one node SIGKILLed mid-traffic (the set-up of `tests/e2e/scale`, without assertions).

Prints the traffic (requests, responses by status, retries, latency) and how long after the traffic
the relay, the history projection and the popups caught up. Bounded: ~20 s of traffic plus start-up.
    .venv/bin/python -m benchmarks.scale_out [--dsn postgresql://postgres@127.0.0.1:5432/test]
        [--before 6] [--after 10] [--workers 3] [--no-kill]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.scale.checks import expected_popups, history_ids, popups_of, store_events, stream_msg_ids
from tests.support.scale.system import Scaled, scaled_system
from tests.support.scale.traffic import Figures, run_traffic

ACCOUNTS = [f"bench-hotel-{i}" for i in range(4)]
REPLIES = 2


async def seconds_until(check: object, *, timeout: float = 120.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    return float("nan")


async def measure(system: Scaled, args: argparse.Namespace) -> None:
    users = {a: system.token("user", sub=f"{a}-user", account=a) for a in ACCOUNTS}
    agent = system.token("agent", sub="agent-1")
    figures = Figures()
    made, _ = await run_traffic(
        system,
        figures,
        users=users,
        agent=agent,
        replies=REPLIES,
        workers_per_replica=args.workers,
        seconds_before_kill=args.before,
        seconds_after_kill=args.after,
        max_tickets_per_worker=10_000,
        kill=not args.no_kill,
    )
    ended = time.monotonic()
    print(figures.summary(made, replies=REPLIES).strip())
    events = await store_events(system)

    async def relayed() -> bool:
        return len(await stream_msg_ids(system)) >= len(events)

    async with httpx.AsyncClient(timeout=20) as http:

        async def projected() -> bool:
            listed = 0
            for account in ACCOUNTS:
                listed += len(await history_ids(http, system.tickets[1].url, agent=agent, account=account))
            return listed >= len(made)

        async def popped() -> bool:
            raised = 0
            for account in ACCOUNTS:
                raised += len(await popups_of(http, system.notifications[1].url, users[account]))
            return raised >= len(expected_popups(events))

        relay = await seconds_until(relayed)
        history = await seconds_until(projected)
        popups = await seconds_until(popped)
    print(
        f"caught up after the traffic: stream {relay:.1f}s, then history +{history:.1f}s,"
        f" popups +{popups:.1f}s ({time.monotonic() - ended:.1f}s in all); {len(events)} public events"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--before", type=float, default=6.0, help="seconds of traffic before the kill")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of traffic after it")
    parser.add_argument("--workers", type=int, default=3, help="client workers per tickets replica")
    parser.add_argument("--no-kill", action="store_true", help="the baseline: all three nodes stay up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        started = time.monotonic()
        with scaled_system(Path(tmp), args.dsn) as system:
            print(f"system up in {time.monotonic() - started:.1f}s (victim {system.victim.server_name})")
            asyncio.run(measure(system, args))


if __name__ == "__main__":
    main()
