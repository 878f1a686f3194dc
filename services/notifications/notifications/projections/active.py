"""The active popups of every recipient, in memory, following the store's notification log.

Derived and rebuildable: a new process replays the log from the start. It holds only popups that can
still be shown (not opened, not deleted), which is what the list endpoint and the due scanner need.
Readers call `catch_up()` first to read their own writes; a background loop keeps it fresh too.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from notifications.application.store import PopupStore
from notifications.domain.model import Popup
from shared.contracts.popups import PopupStatus

_GONE = (PopupStatus.OPENED, PopupStatus.DELETED)


class ActivePopups:
    def __init__(self, store: PopupStore, *, batch: int = 500) -> None:
        self._store = store
        self._batch = batch
        self._lock = threading.Lock()
        self._position = 0
        self._popups: dict[UUID, Popup] = {}
        self._raised_at_position: dict[UUID, int] = {}
        self._by_account: defaultdict[str, set[UUID]] = defaultdict(set)

    @property
    def position(self) -> int:
        return self._position

    def catch_up(self) -> int:
        """Apply every stored event after the last one seen; returns how many were applied."""
        with self._lock:
            applied = 0
            while True:
                notifications = self._store.notifications_after(self._position, limit=self._batch)
                for notification in notifications:
                    self._position = notification.id
                    self._apply(self._store.originator(notification), self._store.decode(notification))
                applied += len(notifications)
                if len(notifications) < self._batch:
                    return applied

    def _apply(self, popup_id: UUID, event: object) -> None:
        if not isinstance(event, Popup.Event):
            return
        current = self._popups.get(popup_id)
        if current is None and not isinstance(event, Aggregate.Created):
            return  # gone already (opened or deleted): later events change nothing shown
        popup = event.mutate(current)
        if not isinstance(popup, Popup):
            return
        if popup.status in _GONE:
            self._popups.pop(popup_id, None)
            self._raised_at_position.pop(popup_id, None)
            self._by_account[popup.account_id].discard(popup_id)
            return
        self._popups[popup_id] = popup
        self._raised_at_position.setdefault(popup_id, self._position)
        self._by_account[popup.account_id].add(popup_id)

    def for_recipient(self, *, account_id: str, user_id: str, now: datetime) -> list[Popup]:
        """The popups this user sees at `now`, in the order they were raised."""
        with self._lock:
            found = [
                (self._raised_at_position[i], self._popups[i]) for i in self._by_account.get(account_id, ())
            ]
        found.sort(key=lambda pair: pair[0])
        return [
            p
            for _, p in found
            if p.is_addressed_to(account_id=account_id, user_id=user_id) and p.is_active(now)
        ]

    def snoozes_due(self, now: datetime) -> list[UUID]:
        """Snoozed popups whose time has come but whose "due again" is not recorded yet."""
        with self._lock:
            return [
                pid
                for pid, p in self._popups.items()
                if p.status is PopupStatus.SNOOZED and p.status_at(now) is PopupStatus.DUE
            ]
