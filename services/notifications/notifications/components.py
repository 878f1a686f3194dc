"""What one process holds while it runs, built by the composition root and read by the entry points."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request

from notifications.adapters.fanout import Hub
from notifications.adapters.relay import Relay
from notifications.adapters.stream_tokens import StreamTokens
from notifications.application.service import PopupService
from notifications.application.store import PopupStore
from notifications.domain.clock import Clock
from notifications.projections.active import ActivePopups
from notifications.projections.history import PopupHistory
from notifications.settings import NotificationsSettings


@dataclass
class Components:
    settings: NotificationsSettings
    clock: Clock
    store: PopupStore
    service: PopupService
    active: ActivePopups
    history: PopupHistory
    hub: Hub
    relay: Relay | None
    stream_tokens: StreamTokens
    # Set to run the view follower now rather than at its next scan.
    follow_wake: asyncio.Event = field(default_factory=asyncio.Event)

    def changed(self) -> None:
        """A command committed here: let the local relay publish it now."""
        if self.relay is not None:
            self.relay.wake()

    def store_changed(self) -> None:
        """Any process committed to the store (PostgreSQL NOTIFY): publish it and follow it now."""
        self.changed()
        self.follow_wake.set()


def components(request: Request) -> Components:
    found = getattr(request.app.state, "components", None)
    if not isinstance(found, Components):
        raise RuntimeError("app.state.components is set by the lifespan of the composition root")
    return found
