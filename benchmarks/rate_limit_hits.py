"""What the rate limiter costs a limited request: CPU a hit, in this process and in nats-server, and
the publishes NATS receives a hit, with `clients` concurrent callers of one user and account.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.rate_limit_hits --clients 1 32 --seconds 5

Each hit spends a user's and the account's budget (`Action.CREATE`, limits far above the load, so
none is refused), as a create in the tickets API does. The caller loops stand for requests: each
yields to the event loop once between hits, as a request's own work would. CPU: utime+stime from
/proc of this process and of its nats-server, before and after, divided by the hits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import nats  # noqa: E402

from benchmarks.tickets_cpu import cpu_seconds  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.natsserver import NatsServer  # noqa: E402
from shared.ratebudgets import Action  # noqa: E402
from shared.ratelimit import RateLimiter  # noqa: E402
from shared.settings import CommonSettings, RateLimitSettings  # noqa: E402

USER = Principal(sub="u-bench", role=Role.USER, account_id="hotel-bench")


async def run(url: str, server_pid: int, *, clients: int, seconds: float) -> dict[str, float]:
    limits = RateLimitSettings(create_per_user=10**9, create_per_account=10**9, window_seconds=3600)
    nc = await nats.connect(url)
    try:
        limiter = await RateLimiter.open(nc, CommonSettings(nats_url=url, rate_limits=limits))
        await limiter.hit(Action.CREATE, USER)  # warm up: the streams exist, the inbox is subscribed
        hits = 0
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal hits
            while time.perf_counter() < deadline:
                await limiter.hit(Action.CREATE, USER)
                hits += 1
                await asyncio.sleep(0)

        sent = nc.stats["out_msgs"]
        cpu = cpu_seconds(os.getpid()), cpu_seconds(server_pid)
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        here, server = cpu_seconds(os.getpid()) - cpu[0], cpu_seconds(server_pid) - cpu[1]
        return {
            "hits_per_s": hits / elapsed,
            "us_here": 1e6 * here / hits,
            "us_nats": 1e6 * server / hits,
            "publishes_per_hit": (nc.stats["out_msgs"] - sent) / hits,
        }
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats", sync_always=False).start()
        try:
            assert server.process is not None
            for clients in args.clients:
                pid = server.process.pid
                result = asyncio.run(run(server.url, pid, clients=clients, seconds=args.seconds))
                print(
                    f"clients={clients:<3} hits/s={result['hits_per_s']:8.0f} "
                    f"CPU a hit: here {result['us_here']:.0f} µs + nats-server {result['us_nats']:.0f} µs "
                    f"= {result['us_here'] + result['us_nats']:.0f} µs; "
                    f"publishes a hit {result['publishes_per_hit']:.2f}"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
