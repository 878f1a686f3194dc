"""`helpdesk up`: the whole system on one machine, nothing else installed.

One supervisor process starts the bundled nats-server (JetStream, data under `<data-dir>/nats`) unless a
NATS URL is given, and the gateway (the bundled Caddy, `helpdesk.gateway`: the one origin on the port
base itself for the APIs, their docs and the front-end build), runs the migration step and the demo seed
once, then starts each service as its own process, exactly as Kubernetes runs them: a crash in one does
not take the others down, each drains its own NATS connection on SIGTERM, and what runs here is what
runs in production. Each is forked from the supervisor, which has imported the libraries they share, so
the four do not each import them again, and each imports its own modules in parallel with the others
(`helpdesk.forking`; `HELPDESK_UP_FORK=0` spawns `python -m <package>`). The URL is printed once every
service is ready. Ctrl-C (or SIGTERM) stops the gateway first, then the services, then
NATS. A child that dies on its own (a service, the bundled nats-server or the gateway) is started again
with back-off and the log says so (`helpdesk.supervisor`); only a crash loop stops the whole system,
with a non-zero exit. The pids of every child are written to `<data-dir>/up.pids` while it runs (again
after each restart), and where its NATS and the gateway listen to `<data-dir>/up.json`: the other
`helpdesk` commands find the system there (`helpdesk.discovery`), whatever port NATS ended up on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpdesk import forking, gateway, prepared, services
from helpdesk.supervisor import ChildProcess, Outcome, Supervised
from shared.caddy import CaddyExited, CaddyNotFound, CaddyServer
from shared.natsserver import NatsServer, free_port

# What nats-server and the gateway do not need is in `helpdesk.launch`, imported once they have started.


@dataclass
class Child:
    name: str
    url: str
    unit: Supervised

    @property
    def process(self) -> ChildProcess:
        assert self.unit.process is not None
        return self.unit.process


def _port_is_free(host: str, port: int) -> bool:
    """Nothing listens on host:port. `SO_REUSEADDR` as every server sets it: a port whose only
    sockets are in TIME_WAIT (left by the connections of a system stopped a moment ago) is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _nothing_recorded(_data_dir: Path) -> None:
    """What there is to forget before `run_up` has written where the system listens: nothing."""


def _supervise(units: list[Supervised], stopping: threading.Event, *, on_restart: Callable[[], None]) -> int:
    """Until Ctrl-C (0) or a crash loop (1): restart whichever child exits on its own."""
    now = time.monotonic()
    for unit in units:
        unit.started_at = unit.started_at or now
    while not stopping.wait(0.5):
        restarted = False
        for unit in units:
            outcome = unit.check(time.monotonic())
            if outcome is Outcome.GAVE_UP:
                return 1
            restarted = restarted or outcome is Outcome.RESTARTED
        if restarted:
            on_restart()
    return 0


def _stop(children: list[Child], *, grace: float = 15.0) -> None:
    running = [(c.name, c.unit.process) for c in children if c.unit.process is not None]
    for _, process in running:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"helpdesk: {name} did not stop in {grace:.0f}s; killing it", file=sys.stderr)
            process.kill()
            process.wait()


def _helpdesk_command() -> str:
    """How to call `helpdesk` from where the user stands (it may not be on PATH: `dev.py up`)."""
    script = Path(sys.executable).parent / "helpdesk"
    if shutil.which("helpdesk") == str(script):
        return "helpdesk"
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)


def _banner(children: list[Child], gateway_url: str, nats_url: str, data_dir: Path) -> str:
    helpdesk = _helpdesk_command()
    lines = [
        "",
        f"Open {gateway_url}/",
        "",
        "OtelMS Helpdesk is running (Ctrl-C stops everything):",
        "",
        f"  {'gateway':<14} {gateway_url}   (API docs: {gateway_url}/docs/)",
    ]
    for child in children:
        lines.append(f"  {child.name:<14} {child.url}   (API docs: {child.url}/docs)")
    lines += [
        f"  {'nats':<14} {nats_url}",
        f"  {'data':<14} {data_dir}",
        "",
        "Tokens for the demo hotel account (development only):",
        f"  {helpdesk} token --role user  --account demo-hotel --sub demo-user --name 'Demo Reception'",
        f"  {helpdesk} token --role agent --sub agent-1 --name 'Support Agent'",
        f"  {helpdesk} token --role editor --sub editor-1 --name 'KB Editor'",
        "",
        'Then: curl -H "Authorization: Bearer $TOKEN" ' + f"{gateway_url}/api/v1/tickets",
        "",
    ]
    return "\n".join(lines)


def run_up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or os.environ.get("HELPDESK_DATA_DIR", ".data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    host = args.host
    env = dict(os.environ)
    env.setdefault("HELPDESK_ENVIRONMENT", "development")
    env["HELPDESK_DATA_DIR"] = str(data_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    nats: NatsServer | None = None
    nats_url = args.nats_url or os.environ.get("HELPDESK_NATS_URL")
    if not nats_url:
        port = args.nats_port
        if port == 0 or not _port_is_free(host, port):
            port = free_port(host)
        nats = NatsServer(
            store_dir=data_dir / "nats",
            port=port,
            host=host,
            log_file=data_dir / "nats.log",
            tied_to_parent=True,  # a killed supervisor leaves no nats-server behind
        )
        nats.start()
        nats_url = nats.url
    env["HELPDESK_NATS_URL"] = nats_url

    children: list[Child] = []
    caddy: CaddyServer | None = None
    forget_record: Callable[[Path], None] = _nothing_recorded
    try:
        if not _port_is_free(host, args.port_base):
            print(
                f"helpdesk: port {args.port_base} for the gateway is taken; try --port-base", file=sys.stderr
            )
            return 1
        ports = {}
        for offset, name in enumerate(services.PACKAGES, start=1):
            port = args.port_base + offset
            if not _port_is_free(host, port):
                print(f"helpdesk: port {port} for {name} is taken; try --port-base", file=sys.stderr)
                return 1
            ports[name] = port
        env.setdefault("HELPDESK_CHAT_TICKETS_URL", f"http://{host}:{ports['tickets']}")

        # The gateway starts before the services (Caddy needs no upstream to start: it answers 502
        # until one is ready), so it is ready while they import; the URL is printed once they are.
        try:
            caddy = gateway.start_gateway(
                data_dir=data_dir,
                host=host,
                port=args.port_base,
                upstreams={name: f"{host}:{port}" for name, port in ports.items()},
                web_root=Path(args.web_dir).resolve() if args.web_dir else gateway.default_web_root(),
            )
        except (CaddyNotFound, CaddyExited, TimeoutError) as exc:
            print(f"helpdesk: the gateway did not start: {exc}", file=sys.stderr)
            return 1

        from helpdesk import launch  # now that nats-server and the gateway are started: see its docstring

        launch.configure_services(env, host=host, ports=ports)
        launch.record(data_dir, nats_url=nats_url)
        forget_record = launch.forget
        # With its own NATS under the data folder, a folder prepared by this code is not prepared again.
        stamp = prepared.fingerprint(env, seeded=not args.no_seed) if nats is not None else None
        if stamp is None or not prepared.is_prepared(data_dir, stamp):
            prepared.forget_prepared(data_dir)
            steps = [["migrate"]] + ([] if args.no_seed else [["seed"]])
            for step in steps:
                code = subprocess.call([sys.executable, "-m", "helpdesk.cli", *step], env=env)
                if code != 0 or stopping.is_set():
                    print(f"helpdesk: `helpdesk {step[0]}` failed with code {code}", file=sys.stderr)
                    return code or 1
            if stamp is not None:
                prepared.mark_prepared(data_dir, stamp)
        else:
            print(f"helpdesk: {data_dir} was prepared by this code: migrate and seed skipped", flush=True)

        units: list[Supervised] = []
        if nats is not None:
            server = nats
            restart_nats = lambda: server.start().process  # noqa: E731 - the same port and data
            units.append(Supervised("nats-server", start=restart_nats, process=server.process))
        fork = forking.fork_enabled(env)
        if fork:
            forking.preload()
            names = ", ".join(services.PACKAGES)
            print(f"helpdesk: {names} forked from the supervisor (pid {os.getpid()})", flush=True)
        for name in services.PACKAGES:
            unit = Supervised(name, start=launch.service_starter(name, env, fork=fork))
            unit.launch()
            units.append(unit)
            children.append(Child(name, f"http://{host}:{ports[name]}", unit))

        def write_pids() -> None:
            pids = {unit.name: unit.pid for unit in units if unit.pid is not None}
            (data_dir / "up.pids").write_text(json.dumps(pids))

        write_pids()

        problems = launch.wait_ready(children, timeout=90)
        if problems:
            print("helpdesk: " + "; ".join(problems), file=sys.stderr)
            return 1
        if stopping.is_set():
            return 0
        proxy = caddy
        units.append(Supervised("caddy", start=lambda: proxy.start().process, process=caddy.process))
        write_pids()
        launch.record(data_dir, nats_url=nats_url, gateway_url=caddy.url)
        print(_banner(children, caddy.url, nats_url, data_dir), flush=True)
        return _supervise(units, stopping, on_restart=write_pids)
    finally:
        if caddy is not None:
            caddy.stop()  # stop taking traffic first
        _stop(children)
        if nats is not None:
            nats.stop()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / "up.pids").unlink()
        forget_record(data_dir)
        print("helpdesk: stopped", file=sys.stderr, flush=True)
