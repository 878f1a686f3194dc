"""The tickets service's commands for `helpdesk`: `helpdesk rebuild history` (with a progress bar).

The composition root passes `add_cli_commands` (with how to load the settings) to the service's
`ServiceDefinition`; each command builds its settings from the environment, like the service itself.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from tqdm import tqdm

from shared.cli import rebuild_targets
from shared.logging import configure_logging
from shared.nats import connect
from shared.service import SubParsers
from tickets.entrypoints.workers import migrate_publication, open_history_store
from tickets.projections.projector import rebuild
from tickets.settings import TicketsSettings


def add_cli_commands(
    subparsers: SubParsers, *, load_settings: Callable[[], TicketsSettings] = TicketsSettings
) -> None:
    """Add `rebuild history` (sharing `rebuild` with other services' targets, if they add some)."""
    targets = rebuild_targets(subparsers)
    history = targets.add_parser(
        "history",
        help="empty the tickets history views and replay the TICKETS stream from its start",
    )
    history.add_argument("--no-progress", action="store_true", help="no progress bar")

    def _cmd_rebuild_history(args: argparse.Namespace) -> int:
        settings = load_settings()
        configure_logging(level="WARNING", json=settings.common.log_json, service="tickets")
        end = asyncio.run(rebuild_history(settings, progress=not args.no_progress))
        print(f"history rebuilt up to stream sequence {end}")  # noqa: T201 -- the command's output
        return 0

    history.set_defaults(func=_cmd_rebuild_history)


async def rebuild_history(settings: TicketsSettings, *, progress: bool = True) -> int:
    """Migrate, empty and replay the history views; return the stream sequence reached."""
    nc = await connect(settings.common, name="tickets-rebuild")
    store = open_history_store(settings)
    bar = tqdm(total=0, unit="event", desc="history", disable=not progress)

    def advance(position: int, target: int) -> None:
        bar.total = target
        bar.update(min(position, target) - bar.n)

    try:
        await migrate_publication(settings, nc.jetstream())
        return await rebuild(
            js=nc.jetstream(), store=store, prefix=settings.common.nats_prefix, progress=advance
        )
    finally:
        bar.close()
        await nc.drain()
        store.close()
