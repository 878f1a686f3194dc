"""Replay of one recipient's popup changes from the store, for an SSE client resuming after a gap."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from notifications.application.public import PublicEvent, event_type, to_public
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
    """The public events of `recipient`'s popups stored after `position`, up to `upto` (inclusive)."""
    if upto - position > limit:
        return Replay(events=[], complete=False)
    audience: dict[UUID, bool] = {}
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
            stored = store.decode(notification)
            if event_type(stored) is None:
                continue
            popup_id = store.originator(notification)
            if popup_id not in audience:
                latest = store.popup(popup_id)
                audience[popup_id] = latest.is_addressed_to(
                    account_id=recipient.account_id, user_id=recipient.user_id
                )
            if not audience[popup_id]:
                continue
            popup = store.popup(popup_id, version=notification.originator_version)
            events.append(to_public(stored, popup, position=notification.id, path_template=path_template))
    return Replay(events=events, complete=True)
