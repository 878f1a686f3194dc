"""The notifications service's commands for `helpdesk`: `helpdesk rebuild popups`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from shared.cli import rebuild_targets
from shared.logging import configure_logging


def add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `rebuild popups` (sharing `rebuild` with other services' targets)."""
    targets = rebuild_targets(subparsers)
    popups = targets.add_parser(
        "popups", help="empty the active-popups view and replay the notifications store from its start"
    )
    popups.set_defaults(func=_cmd_rebuild_popups)


def _cmd_rebuild_popups(args: argparse.Namespace) -> int:
    from notifications.bootstrap import load_settings  # bootstrap imports this module: import it late

    settings = load_settings()
    configure_logging(level="WARNING", json=settings.common.log_json, service="notifications")
    position = asyncio.run(rebuild_active_view(settings))
    print(f"active popups rebuilt up to store position {position}")  # noqa: T201 -- the command's output
    return 0


async def rebuild_active_view(settings: Any) -> int:
    """Empty the view and replay the store into it; returns the store position it reached.
    Replicas keep serving meanwhile: they wait for the view's lock, then read the rebuilt rows."""
    from notifications.application.store import open_store
    from notifications.bootstrap import open_active_view
    from notifications.projections.active import create_tables

    store = await asyncio.to_thread(open_store, settings.store_env(create_tables=False))
    view = open_active_view(store, settings)
    try:
        await asyncio.to_thread(create_tables, view.db)
        await asyncio.to_thread(view.rebuild)
        return view.position
    finally:
        view.close()
        store.close()
