"""Helpers for the subcommands services add to `helpdesk`."""

from __future__ import annotations

import argparse
from typing import Any


def rebuild_targets(subparsers: argparse._SubParsersAction[Any]) -> argparse._SubParsersAction[Any]:
    """The targets of `helpdesk rebuild`, created by whichever service adds one first."""
    rebuild = subparsers.choices.get("rebuild") or subparsers.add_parser(
        "rebuild", help="rebuild derived views from their event streams"
    )
    targets: argparse._SubParsersAction[Any] | None = getattr(rebuild, "helpdesk_targets", None)
    if targets is None:
        targets = rebuild.add_subparsers(dest="target", required=True)
        rebuild.helpdesk_targets = targets
    return targets
