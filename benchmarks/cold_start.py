"""Cold start of `helpdesk up` with data present: seconds from the command to the gateway answering.

Runs `helpdesk up` once on a fresh data folder (migrations and the demo seed write it), stops it,
then starts it again `--runs` times on that data and prints, per run, the seconds until the gateway
answers `GET /` and all four services answer `/readyz` (a data folder this code prepared skips
migrate and seed: `helpdesk.prepared`), when each of them answered, and the CPU seconds the whole
process tree had spent by then (the supervisor, the services, nats-server and Caddy). The machine is
shared: the load average is printed beside every figure, and the CPU seconds are what the load
distorts least. `--spawn` starts the services as `python -m <package>` instead of forking them
(`HELPDESK_UP_FORK=0`), to compare the two back to back.
    .venv/bin/python -m benchmarks.cold_start [--runs 3] [--port-base 18400] [--spawn]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("gateway", "tickets", "notifications", "chat", "kb-search")  # the gateway, then base+1..4


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def _stat(pid: int) -> list[str]:
    with Path(f"/proc/{pid}/stat").open() as f:
        return f.read().rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and every live descendant, with their reaped children."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    ticks = 0
    for pid in tree:
        try:
            fields = _stat(pid)  # utime, stime, cutime, cstime are fields 14-17 of the whole line
            ticks += sum(int(value) for value in fields[11:15])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Start:
    process: subprocess.Popen[bytes]
    seconds: float  # until everything answered
    ready_at: dict[str, float]  # seconds until each answered
    cpu_seconds: float  # of the whole tree, when everything answered

    def detail(self) -> str:
        order = sorted(self.ready_at.items(), key=lambda item: item[1])
        ready = ", ".join(f"{name} {at:.2f}" for name, at in order)
        return f"{self.cpu_seconds:.1f} CPU s; ready at: {ready}"


def start(data_dir: Path, port_base: int, *, spawn: bool = False) -> Start:
    """Start `helpdesk up`; return it once the gateway and every service answered."""
    env = {**os.environ, "HELPDESK_LOG_LEVEL": "WARNING"}
    if spawn:
        env["HELPDESK_UP_FORK"] = "0"
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpdesk.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--port-base",
            str(port_base),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Ready = the gateway answers and every service says it is ready (the gateway starts beside the
    # services, so its page alone would answer before the system can serve a request).
    urls = [f"http://127.0.0.1:{port_base}/"] + [
        f"http://127.0.0.1:{port_base + offset}/readyz" for offset in range(1, 5)
    ]
    pending = dict(zip(NAMES, urls, strict=True))
    ready_at: dict[str, float] = {}
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() - started < 180:
            if proc.poll() is not None:
                raise RuntimeError(f"helpdesk up exited with {proc.returncode}")
            for name, url in list(pending.items()):
                try:
                    if client.get(url).status_code == 200:
                        del pending[name]
                        ready_at[name] = time.monotonic() - started
                except httpx.HTTPError:
                    pass
            if not pending:
                seconds = time.monotonic() - started
                return Start(proc, seconds, ready_at, tree_cpu_seconds(proc.pid))
            time.sleep(0.02)
    raise TimeoutError(f"not ready in 180 s: {list(pending)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stamp(data_dir: Path) -> int:
    """When `helpdesk up` last recorded the folder as prepared (`helpdesk.prepared`)."""
    try:
        return (data_dir / "prepared.json").stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def main(runs: int, port_base: int, *, spawn: bool) -> None:
    how = "spawned (python -m)" if spawn else "forked from the supervisor"
    print(f"services {how}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        first = start(data, port_base, spawn=spawn)
        print(f"first start (migrations and seed on an empty folder): {first.seconds:.2f} s ({load()})")
        stop(first.process)
        results: list[float] = []
        for run in range(runs):
            time.sleep(1)  # the ports leave TIME_WAIT behind; `up` treats that as free
            stamp = _stamp(data)
            result = start(data, port_base, spawn=spawn)
            # Another checkout's edit changes the code's fingerprint: that start migrated and seeded.
            prepared = _stamp(data) == stamp
            if prepared:
                results.append(result.seconds)
            note = "" if prepared else " [the code changed: migrated and seeded again]"
            print(
                f"start {run + 1} with data present: every service ready after {result.seconds:.2f} s "
                f"({result.detail()}; {load()}){note}"
            )
            stop(result.process)
        if results:
            print(f"best {min(results):.2f} s, median {statistics.median(results):.2f} s (prepared starts)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=18400)
    parser.add_argument("--spawn", action="store_true", help="python -m each service (HELPDESK_UP_FORK=0)")
    args = parser.parse_args()
    main(args.runs, args.port_base, spawn=args.spawn)
