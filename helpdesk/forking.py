"""Starting `helpdesk up`'s services by forking the supervisor, which has imported what they share.

Each service imports 1–2.5 CPU seconds of Python (FastAPI and the pydantic models, faststream,
eventsourcing, uvicorn, the service itself) before it can connect. Spawned as `python -m <package>`,
the four of them pay that four times over, on a machine that may have two cores. So the supervisor is
the prepared process a fork server keeps (as gunicorn's `preload_app` and multiprocessing's
`forkserver` do): it imports once what every service imports (`PRELOAD`: the common libraries and the
`shared` modules, no service), and `fork()` gives each service those modules already imported,
copy-on-write. Each child then imports only its own composition root (`<package>.bootstrap`), in
parallel with the others, builds its app, connects and opens its store. A restarted service is forked
again and imports its own modules again. Since the supervisor imports no service, a child's `/metrics`
shows what the spawned one would: its own and the shared ones.

A forked child behaves like the `python -m <package>` it replaces: it is the supervisor's child (the
supervisor polls and restarts it with the same back-off), it writes to the same stdout and stderr,
it has the environment the spawned one would have had, the default SIGINT and SIGTERM handlers
(uvicorn installs its own and stops gracefully), no descriptor but 0–2 and one pipe back to the
supervisor, and it gets SIGTERM when the supervisor dies. Through that pipe a child that fails
(an uncaught exception, a `SystemExit` with a message) also hands the supervisor the end of what it
printed on stderr (`ForkedProcess.error`): the supervisor's own message about it can quote it, rather
than leave it among the other services' lines. The supervisor forks only from its main thread with no
event loop, no connection and no other thread running.

`HELPDESK_UP_FORK=0` (or a platform without `fork`) spawns each service as `python -m <package>`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping

from shared import processes

FORK_SETTING = "HELPDESK_UP_FORK"
ERROR_TAIL = 4000  # characters of a failed child's error handed to the supervisor, far below a pipe's buffer
# Imported by every service (the `shared` modules each composition root imports, and the libraries
# under them), or by two of them (eventsourcing), or only once it starts serving (uvicorn's lifespan
# and WebSocket protocol, `uvicorn.Config.load`): imported in the supervisor, they are in every fork.
# No service module: each child imports its own.
PRELOAD = (
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "starlette",
    "uvicorn",
    "nats",
    "structlog",
    "prometheus_client",
    "httpx",
    "jwt",
    "opentelemetry.trace",
    "eventsourcing.application",
    "eventsourcing.persistence",
    "shared.auth",
    "shared.contracts.envelope",
    "shared.contracts.subjects",
    "shared.cors",
    "shared.edge",
    "shared.errors",
    "shared.health",
    "shared.http",
    "shared.httpserver",
    "shared.jwks",
    "shared.logging",
    "shared.nats",
    "shared.ratebudgets",
    "shared.ratelimit",
    "shared.service",
    "shared.settings",
    "shared.streamslots",
    "shared.tracing",
    "shared.types",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
)


def fork_enabled(environ: Mapping[str, str]) -> bool:
    """Whether services are forked (the default where `fork` exists) or spawned."""
    setting = environ.get(FORK_SETTING, "1").strip().lower()
    return hasattr(os, "fork") and setting not in {"0", "false", "no", "off"}


def preload() -> None:
    """Import what the services share (`PRELOAD`; what is missing is skipped), then freeze what is
    imported: a child's collections skip it and leave its pages shared."""
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # Not `shared.collector.freeze_long_lived`: its collection first suits a service freezing what it
    # keeps for its life, not the moment before a fork. Here it finds next to nothing (23 unreachable
    # objects of ~78,000 tracked after `PRELOAD`, measured) yet walks them all (~50 ms) before any
    # service can start, and, as `gc.freeze`'s own note says, a collection before a fork frees memory
    # that each child's allocations then reuse, copying those shared pages. Each child collects and
    # freezes its own at start-up (`shared.collector.settled_gc`).
    gc.freeze()


class ForkedProcess:
    """A forked child, with the part of `subprocess.Popen` the supervisor uses."""

    def __init__(self, pid: int, args: list[str], errors: int | None = None) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        # The end of the error the child printed if it failed; read from `errors` once it has exited.
        self.error = ""
        self._errors = errors

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its code is lost
                self.returncode = 255
            else:
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            if self.returncode is not None:
                self._read_error()
        return self.returncode

    def _read_error(self) -> None:
        if self._errors is None:
            return
        fd, self._errors = self._errors, None
        os.set_blocking(fd, False)  # a grandchild forked by the service may still hold the other end
        with os.fdopen(fd, "rb") as pipe, contextlib.suppress(BlockingIOError):
            self.error = (pipe.read() or b"").decode(errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __repr__(self) -> str:
        return f"ForkedProcess(pid={self.pid}, args={self.args!r}, returncode={self.returncode})"


def fork(main: Callable[[], None], *, name: str, env: Mapping[str, str]) -> ForkedProcess:
    """Run `main()` in a forked child named `name` (what `ps -o comm` shows) with environment `env`;
    the child exits when `main` returns (0), raises `SystemExit`, fails (1, traceback on stderr) or
    is interrupted (by SIGINT, as Python does)."""
    for stream in (sys.stdout, sys.stderr):  # or what is buffered would be written twice
        stream.flush()
    parent = os.getpid()
    errors, child_errors = os.pipe()
    pid = os.fork()
    if pid:
        os.close(child_errors)
        return ForkedProcess(pid, [f"<fork of {parent}>", name], errors)
    os.close(errors)  # pragma: no cover - in the child, which `_run_child` ends
    _run_child(main, name=name, env=env, parent=parent, errors=child_errors)  # pragma: no cover
    raise AssertionError("unreachable")  # pragma: no cover


def _run_child(  # pragma: no cover - runs in the forked child (tests see its effects)
    main: Callable[[], None], *, name: str, env: Mapping[str, str], parent: int, errors: int
) -> None:
    code, by_signal, error = 1, 0, ""
    try:
        _become(name=name, env=env, parent=parent, keep=errors)
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            error = f"{exc.code}\n"
    except KeyboardInterrupt:
        by_signal = signal.SIGINT
    except BaseException:  # noqa: BLE001 - the process ends here, as Python's own would
        error = traceback.format_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.write(error)
            with os.fdopen(errors, "wb") as pipe:
                pipe.write(error[-ERROR_TAIL:].encode(errors="replace"))
        # What the interpreter does at exit (atexit: tracing's exporters flush), but never unwinding
        # into the supervisor's frames this process was forked from.
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        if by_signal:
            signal.signal(by_signal, signal.SIG_DFL)
            os.kill(os.getpid(), by_signal)
        os._exit(code)


def _become(*, name: str, env: Mapping[str, str], parent: int, keep: int) -> None:  # pragma: no cover
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    processes.die_with_parent()
    if os.getppid() != parent:  # the supervisor died before that took effect
        os._exit(1)
    atexit._clear()  # the supervisor's exit functions are the supervisor's
    # As `subprocess` does: nothing of the supervisor's stays open (but the pipe to it, `keep`).
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [name]
    processes.set_process_name(name)


def _max_fd() -> int:
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return int(os.sysconf("SC_OPEN_MAX"))
