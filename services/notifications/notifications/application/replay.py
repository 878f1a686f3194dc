"""Replay of one recipient's popup changes from the store, for an SSE client resuming after a gap."""

from __future__ import annotations

from dataclasses import dataclass

from notifications.application.public import PublicEvent, public_event
from notifications.application.service import Recipient
from notifications.application.store import PopupStore


@dataclass(frozen=True)
class Replay:
    events: list[PublicEvent]
    # False when the gap was longer than the scan limit: the client must reload its list instead.
    complete: bool


def changes_since(
    store: PopupStore, position: int, *, upto: int, recipient: Recipient, path_template: str, limit: int
) -> Replay:
    """The public events of `recipient`'s popups stored after `position`, up to `upto` (inclusive):
    the same ones the live stream would have sent them."""
    if upto - position > limit:
        return Replay(events=[], complete=False)
    events: list[PublicEvent] = []
    cursor = position
    while cursor < upto:
        notifications = store.notifications_after(cursor, limit=min(500, upto - cursor))
        if not notifications:
            break
        for notification in notifications:
            if notification.id > upto:
                return Replay(events=events, complete=True)
            cursor = notification.id
            event = public_event(store, notification, path_template=path_template)
            if event is not None and event.is_for(account_id=recipient.account_id, user_id=recipient.user_id):
                events.append(event)
    return Replay(events=events, complete=True)
