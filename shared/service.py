"""What every service's composition root offers the `helpdesk` command and `python -m <service>`.

Each service has one `bootstrap.py` exposing a `SERVICE: ServiceDefinition`. The command line, the
embedded runner (`helpdesk up`) and the tests all go through it, so a service is always built the
same way: settings from env (or given), one app per process, one migration step.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from shared.http import serve
from shared.logging import configure_logging
from shared.settings import ServiceSettings
from shared.tracing import setup_tracing


@dataclass(frozen=True)
class ServiceDefinition:
    """How to configure, migrate, seed and run one service."""

    name: str  # e.g. "kb-search"
    package: str  # e.g. "kb_search" (python -m kb_search)
    env_prefix: str  # e.g. "HELPDESK_KB_SEARCH_"
    default_port: int
    load_settings: Callable[..., ServiceSettings]
    create_app: Callable[[Any], FastAPI]
    # Idempotent: creates streams, consumers, buckets and tables if missing. Run once, before replicas.
    migrate: Callable[[Any], Awaitable[None]]
    # Writes the demo data for the embedded default; idempotent.
    seed_demo: Callable[[Any], Awaitable[None]] | None = None
    # Adds service-specific subcommands to `helpdesk` (e.g. `rebuild`, `kb import`).
    add_cli_commands: Callable[[argparse._SubParsersAction[Any]], None] | None = None


def run(definition: ServiceDefinition, settings: ServiceSettings | None = None) -> None:
    """Run one service until SIGTERM/SIGINT (what `python -m <service>` and Kubernetes do)."""
    settings = settings or definition.load_settings()
    settings.refuse_to_start_if_undeployable(definition.name)
    common = settings.common
    configure_logging(level=common.log_level, json=common.log_json, service=definition.name)
    setup_tracing(common, service=definition.name)

    async def main() -> None:
        if settings.migrate_on_start:
            await definition.migrate(settings)
        await serve(definition.create_app(settings), settings)

    asyncio.run(main())
