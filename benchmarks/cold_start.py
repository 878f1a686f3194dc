"""Cold start of `helpdesk up` with data present: seconds from the command to the gateway answering.

Runs `helpdesk up` once on a fresh data folder (migrations and the demo seed write it), stops it,
then starts it again `--runs` times on that data and prints, per run, the seconds until the gateway
answers `GET /` and all four services answer `/readyz` (a data folder this code prepared skips
migrate and seed: `helpdesk.prepared`). The machine is shared: the load average is
printed beside every figure.
    .venv/bin/python -m benchmarks.cold_start [--runs 3] [--port-base 18400]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def start(data_dir: Path, port_base: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start `helpdesk up`; return it and the seconds until the gateway answered."""
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
        env={**os.environ, "HELPDESK_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Ready = the gateway answers and every service says it is ready (the gateway starts beside the
    # services, so its page alone would answer before the system can serve a request).
    pending = [f"http://127.0.0.1:{port_base}/"] + [
        f"http://127.0.0.1:{port_base + offset}/readyz" for offset in range(1, 5)
    ]
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() - started < 180:
            if proc.poll() is not None:
                raise RuntimeError(f"helpdesk up exited with {proc.returncode}")
            for url in list(pending):
                try:
                    if client.get(url).status_code == 200:
                        pending.remove(url)
                except httpx.HTTPError:
                    pass
            if not pending:
                return proc, time.monotonic() - started
            time.sleep(0.02)
    raise TimeoutError(f"not ready in 180 s: {pending}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(runs: int, port_base: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc, first = start(data, port_base)
        print(f"first start (migrations and seed on an empty folder): {first:.2f} s ({load()})")
        stop(proc)
        for run in range(runs):
            time.sleep(1)  # the ports leave TIME_WAIT behind; `up` treats that as free
            proc, seconds = start(data, port_base)
            print(f"start {run + 1} with data present: every service ready after {seconds:.2f} s ({load()})")
            stop(proc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=18400)
    args = parser.parse_args()
    main(args.runs, args.port_base)
