"""What every service's composition root offers the `helpdesk` command and `python -m <service>`.

Each service has one `bootstrap.py` exposing a `SERVICE: ServiceDefinition` (built by
`define_service`). The command line, the embedded runner (`helpdesk up`) and the tests all go
through it, so a service is always built the same way: settings from env (or given), one app per
process, one migration step. Nothing here imports a service: the definition is passed in, so no
service module needs its composition root back (no import cycles).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from fastapi import FastAPI
from nats.aio.client import Client as NATS
from prometheus_client import start_http_server

from shared.http import serve
from shared.logging import configure_logging
from shared.nats import connect
from shared.settings import ServiceSettings
from shared.tracing import setup_tracing

S = TypeVar("S", bound=ServiceSettings)
SubParsers: TypeAlias = "argparse._SubParsersAction[Any]"
# Work of a process of its own (`python -m tickets.relay`): until `stop` is set, then finish.
Work: TypeAlias = Callable[[S, NATS, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """How to configure, migrate, seed and run one service."""

    name: str  # e.g. "kb-search"
    package: str  # e.g. "kb_search" (python -m kb_search)
    env_prefix: str  # e.g. "HELPDESK_KB_SEARCH_"
    default_port: int
    load_settings: Callable[..., S]
    create_app: Callable[[S], FastAPI]
    # Idempotent: creates streams, consumers, buckets and tables if missing. Run once, before replicas.
    migrate: Callable[[S], Awaitable[None]]
    # Writes the demo data for the embedded default; idempotent.
    seed_demo: Callable[[S], Awaitable[None]] | None = None
    # Adds service-specific subcommands to `helpdesk` (e.g. `rebuild`, `kb import`).
    add_cli_commands: Callable[[SubParsers], None] | None = None


def env_prefix(name: str) -> str:
    """Where service `name`'s settings are read from: `HELPDESK_<NAME>_` (`-` as `_`), e.g.
    `HELPDESK_KB_SEARCH_PORT` for kb-search. `helpdesk up` sets `<prefix>PORT` and `<prefix>HOST` from
    it before it starts a service, so it is a rule of the name, not of the settings class."""
    return f"HELPDESK_{name.upper().replace('-', '_')}_"


def define_service(
    name: str,
    *,
    settings: type[S],
    port: int,
    create_app: Callable[[S], FastAPI],
    migrate: Callable[[S], Awaitable[None]],
    seed_demo: Callable[[S], Awaitable[None]] | None = None,
    add_cli_commands: Callable[[SubParsers], None] | None = None,
) -> ServiceDefinition[S]:
    """The definition of service `name` (its package is `name` with `_` for `-`; its env prefix is
    `env_prefix(name)`, which its settings class must read: ValueError if it reads another)."""
    prefix = env_prefix(name)
    declared = settings.model_config.get("env_prefix", "")
    if declared != prefix:
        raise ValueError(
            f"{settings.__name__} reads env prefix {declared!r}; service {name!r} needs {prefix!r}"
        )
    return ServiceDefinition(
        name=name,
        package=name.replace("-", "_"),
        env_prefix=prefix,
        default_port=port,
        load_settings=settings,
        create_app=create_app,
        migrate=migrate,
        seed_demo=seed_demo,
        add_cli_commands=add_cli_commands,
    )


def _start_process(settings: ServiceSettings, name: str) -> None:
    settings.refuse_to_start_if_undeployable(name)
    common = settings.common
    configure_logging(level=common.log_level, json=common.log_json, service=name)
    setup_tracing(common, service=name)


def run(definition: ServiceDefinition[Any], settings: ServiceSettings | None = None) -> None:
    """Run one service until SIGTERM/SIGINT (what `python -m <service>` and Kubernetes do)."""
    settings = settings or definition.load_settings()
    _start_process(settings, definition.name)

    async def main() -> None:
        if settings.migrate_on_start:
            await definition.migrate(settings)
        await serve(definition.create_app(settings), settings)

    asyncio.run(main())


def run_standalone(definition: ServiceDefinition[S], name: str, work: Work[S]) -> None:
    """One worker of a service as a process of its own (e.g. `python -m tickets.relay`): settings
    from the environment, one NATS connection, `work` until SIGTERM / SIGINT (it finishes its
    batch), then drain and exit."""
    settings = definition.load_settings()
    _start_process(settings, name)
    # /metrics (relay position, projection lag) for Prometheus; the API serves its own on its port.
    metrics_port: int | None = getattr(settings, "metrics_port", None)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.host)

    async def main() -> None:
        nc = await connect(settings.common, name=name)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            if settings.migrate_on_start:
                await definition.migrate(settings)  # the service's one migration step, whole
            await work(settings, nc, stop)
        finally:
            await nc.drain()

    asyncio.run(main())
