"""The part of `helpdesk up` that comes once nats-server and the gateway have started: where each
service listens, the record the other `helpdesk` commands read (`helpdesk.discovery`), how each
service is started (forked or spawned), and the wait until every service is ready.

It is a module of its own so that `helpdesk.up` imports it at that moment, in one place (`run_up`),
and nowhere earlier: what it imports (pydantic-settings and the NATS client under
`helpdesk.discovery`, httpx, `shared.service` with FastAPI and uvicorn under it) is what the forked
services need anyway (`forking.preload` imports it right after), but nats-server and the gateway need
none of it, and they start before it is imported instead of after.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING

import httpx

from helpdesk import forking, services
from helpdesk.discovery import forget, record
from helpdesk.supervisor import ChildProcess
from shared import processes
from shared.service import env_prefix, run
from shared.settings import DEV_JWT_SECRET

if TYPE_CHECKING:
    from helpdesk.up import Child

ERROR_LINES = 12  # of a service's error, quoted when it stops `helpdesk up` before it was ready

__all__ = ["configure_services", "forget", "record", "service_starter", "wait_ready"]


def configure_services(env: MutableMapping[str, str], *, host: str, ports: dict[str, int]) -> None:
    """Where each service listens (`<prefix>PORT`, `<prefix>HOST`), and the development JWT secret
    unless one is set."""
    for name, port in ports.items():
        env[f"{env_prefix(name)}PORT"] = str(port)
        env[f"{env_prefix(name)}HOST"] = host
    env.setdefault("HELPDESK_JWT_SECRET", DEV_JWT_SECRET)


def service_starter(name: str, env: dict[str, str], *, fork: bool) -> Callable[[], ChildProcess]:
    """How the supervisor starts (and restarts) a service: forked from itself, or `python -m`."""
    if fork:
        main = functools.partial(_run_forked, name)
        return functools.partial(forking.fork, main, name=name, env=env)
    return functools.partial(_spawn, [sys.executable, "-m", services.PACKAGES[name]], env)


def _run_forked(name: str) -> None:
    """In the forked child: import the service's composition root (the supervisor did not) and run it."""
    run(services.definition(name))


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The services share the supervisor's session (Ctrl-C reaches them too) and die with it.
    return subprocess.Popen(args, env=env, preexec_fn=processes.die_with_parent)


def wait_ready(children: Sequence[Child], *, timeout: float) -> list[str]:
    """What keeps the services from being ready: one that exited, or those not ready in time."""
    deadline = time.monotonic() + timeout
    pending = {c.name: c for c in children}
    with httpx.Client(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for name, child in list(pending.items()):
                if child.process.poll() is not None:
                    return [_died_before_ready(child)]
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{child.url}/readyz").status_code == 200:
                        del pending[name]
            time.sleep(0.05)
    return [f"{name} is not ready after {timeout:.0f}s" for name in pending]


def _died_before_ready(child: Child) -> str:
    """A service that exited before it was ever ready will not be after a restart (it cannot import,
    its settings are refused, its port is taken): say so with the end of its error, to stop at once."""
    said = f"{child.name} exited with code {child.process.returncode} before it was ever ready"
    process = child.process
    error = process.error.strip() if isinstance(process, forking.ForkedProcess) else ""
    if not error:
        return f"{said} (its output is above)"
    tail = error.splitlines()[-ERROR_LINES:]
    return f"{said}; its error ends:\n" + "\n".join(f"    {line}" for line in tail)
