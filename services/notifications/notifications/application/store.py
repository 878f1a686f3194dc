"""The event store of this service (eventsourcing): SQLite embedded, PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification

from notifications.domain.ids import recipient_state_id
from notifications.domain.model import Popup
from notifications.domain.recipient import RecipientState


class WrongAggregate(TypeError):
    """Raised when an id names a stored aggregate of another kind than the one asked for (for a
    caller: no such popup)."""


class PopupStore(Application[UUID]):
    """Popups, each user's own state of popups sent to their whole account, and ticket requesters: one
    notification log (the outbox the relay follows)."""

    name = "NOTIFICATIONS"

    def head(self) -> int:
        """The newest position of the notification log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def notifications_after(self, position: int, *, limit: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(position, limit, inclusive_of_start=False)

    @staticmethod
    def originator(notification: Notification) -> UUID:
        found = notification.originator_id
        return found if isinstance(found, UUID) else UUID(str(found))

    def decode(self, notification: Notification) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(notification)

    def popup(self, popup_id: UUID, *, version: int | None = None) -> Popup:
        popup: object = self.repository.get(popup_id, version=version)
        if not isinstance(popup, Popup):
            raise WrongAggregate(f"{popup_id} is not a popup")
        return popup

    def recipient_state(
        self, popup_id: UUID, user_id: str, *, version: int | None = None
    ) -> RecipientState | None:
        """`user_id`'s own state of an account-wide popup; None until their first action on it."""
        return self.recipient_state_by_id(recipient_state_id(popup_id, user_id), version=version)

    def recipient_state_by_id(self, state_id: UUID, *, version: int | None = None) -> RecipientState | None:
        try:
            state: object = self.repository.get(state_id, version=version)
        except AggregateNotFoundError:
            return None
        if not isinstance(state, RecipientState):
            raise WrongAggregate(f"{state_id} is not a recipient's state")
        return state


def open_store(env: dict[str, str]) -> PopupStore:
    """Open the store; tables exist only if `migrate()` (env CREATE_TABLE=y) created them."""
    return PopupStore(env=env)
