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
        "popups",
        help="empty the active-popups and popup-history views and replay the notifications store into them",
    )
    popups.set_defaults(func=_cmd_rebuild_popups)


def _cmd_rebuild_popups(args: argparse.Namespace) -> int:
    from notifications.bootstrap import load_settings  # bootstrap imports this module: import it late

    settings = load_settings()
    configure_logging(level="WARNING", json=settings.common.log_json, service="notifications")
    positions = asyncio.run(rebuild_views(settings))
    for name, position in positions.items():
        print(f"{name} rebuilt up to store position {position}")  # noqa: T201 -- the command's output
    return 0


async def rebuild_views(settings: Any) -> dict[str, int]:
    """Empty every view and replay the store into it, one view per transaction; returns the store
    position each reached. Replicas keep serving meanwhile: they wait for a view's lock, then read
    its rebuilt rows."""
    from notifications.application.store import open_store
    from notifications.bootstrap import VIEWS, open_view_db

    store = await asyncio.to_thread(open_store, settings.store_env(create_tables=False))
    positions: dict[str, int] = {}
    try:
        for kind in VIEWS:
            view = kind(store, open_view_db(settings))
            try:
                await asyncio.to_thread(kind.create_tables, view.db)
                await asyncio.to_thread(view.rebuild)
                positions[kind.NAME] = view.position
            finally:
                view.close()
    finally:
        store.close()
    return positions
