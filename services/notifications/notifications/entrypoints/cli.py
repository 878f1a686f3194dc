"""The notifications service's commands for `helpdesk`: `helpdesk rebuild popups`.

The composition root passes in how to load the settings and how to rebuild the views, so this module
needs nothing of it."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from notifications.settings import NotificationsSettings
from shared.cli import rebuild_targets
from shared.logging import configure_logging
from shared.service import SubParsers

# Empties every view and replays the store into it; returns each view's store position reached.
RebuildViews = Callable[[NotificationsSettings], Coroutine[Any, Any, dict[str, int]]]


def add_cli_commands(
    subparsers: SubParsers,
    *,
    rebuild_views: RebuildViews,
    load_settings: Callable[[], NotificationsSettings] = NotificationsSettings,
) -> None:
    """Add `rebuild popups` (sharing `rebuild` with other services' targets)."""
    targets = rebuild_targets(subparsers)
    popups = targets.add_parser(
        "popups",
        help="empty the active-popups and popup-history views and replay the notifications store into them",
    )

    def _cmd_rebuild_popups(args: argparse.Namespace) -> int:
        settings = load_settings()
        configure_logging(level="WARNING", json=settings.common.log_json, service="notifications")
        positions = asyncio.run(rebuild_views(settings))
        for name, position in positions.items():
            print(f"{name} rebuilt up to store position {position}")  # noqa: T201 -- the command's output
        return 0

    popups.set_defaults(func=_cmd_rebuild_popups)
