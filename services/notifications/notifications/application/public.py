"""Stored popup events → public events (`shared.contracts.popups_v2`): the stored form is not the public one.

A popup's own events are published as changes every recipient sees; the events of one user's own
state of a popup sent to their whole account carry that user (`recipient_id`) and the popup as that
user sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from notifications.application.store import PopupStore
from notifications.application.views import snapshot
from notifications.domain.ids import public_event_id
from notifications.domain.lifecycle import Cause, Change, Lifecycle
from notifications.domain.model import Popup, TicketRequester
from notifications.domain.recipient import RecipientState, SeenPopup
from shared.contracts import popups_v2
from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.popups_v2 import PopupEventDataV2
from shared.contracts.subjects import event_subject

# The public type of each stored event class. A lifecycle change maps for both aggregates that record
# it: a popup's own (every recipient sees it) and one user's own state of a popup sent to their whole
# account (`Popup.Snoozed` and `RecipientState.Snoozed` are both a `Lifecycle.Snoozed`).
PUBLIC: Mapping[type[Aggregate.Event], str] = {
    Popup.Raised: "popup.raised",
    Lifecycle.Delivered: "popup.delivered",
    Lifecycle.Snoozed: "popup.snoozed",
    Lifecycle.DueAgain: "popup.due_again",
    Lifecycle.Opened: "popup.opened",
    Lifecycle.Deleted: "popup.deleted",
}
# Stored, never published, and why.
PRIVATE: Mapping[type[Aggregate.Event], str] = {
    RecipientState.Started: "a user's first record of a popup changes nothing they see",
    TicketRequester.Remembered: "who opened a ticket: the popups of its replies carry it",
}
# Every aggregate this service stores.
STORED: tuple[type[Aggregate], ...] = (Popup, RecipientState, TicketRequester)


class UnmappedEvent(RuntimeError):
    """Raised at start-up when a stored event class has no public form and is not declared private."""


def recorded_events(aggregate: type[Aggregate]) -> list[type[Aggregate.Event]]:
    """The event classes `aggregate` records: every one declared on it but the library's `Event` and
    `Created` bases (each aggregate here declares its own first event)."""
    return [
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, Aggregate.Event) and name not in {"Event", "Created"}
    ]


def check_public_forms() -> None:
    """`UnmappedEvent` unless every event the stored aggregates record is published (`PUBLIC`) or
    declared private (`PRIVATE`): run at start-up, so that no new event goes unpublished by oversight."""
    missing = [
        f"{aggregate.__qualname__}.{event_cls.__name__}"
        for aggregate in STORED
        for event_cls in recorded_events(aggregate)
        if _mapped(event_cls, PUBLIC) is None and _mapped(event_cls, PRIVATE) is None
    ]
    if missing:
        raise UnmappedEvent(
            f"stored events without a public form (declare them in PUBLIC or PRIVATE): {', '.join(missing)}"
        )


def _mapped(event_cls: type[object], mapping: Mapping[type[Aggregate.Event], str]) -> str | None:
    """What `mapping` says of `event_cls` or of the nearest of its bases it names."""
    for cls in event_cls.__mro__:
        found = mapping.get(cls)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class PublicEvent:
    """One public event ready to publish; `position` is its place in the store's notification log."""

    position: int
    subject: str
    envelope: EventEnvelope[PopupEventDataV2]

    def body(self) -> bytes:
        return self.envelope.model_dump_json().encode()

    def is_for(self, *, account_id: str, user_id: str) -> bool:
        """Shown on the screens of `user_id` of `account_id`."""
        addressed_to = self.envelope.data.addressed_to
        return self.envelope.account_id == account_id and addressed_to in (None, user_id)


def event_type(stored: object) -> str | None:
    """The public type of a stored event, or None for events that are not published (`PRIVATE`)."""
    return _mapped(type(stored), PUBLIC)


def public_event(store: PopupStore, notification: Notification, *, path_template: str) -> PublicEvent | None:
    """The public form of one stored event, or None when it is not published."""
    stored = store.decode(notification)
    if event_type(stored) is None:
        return None
    originator, version = store.originator(notification), notification.originator_version
    if isinstance(stored, RecipientState.Event):
        own = store.recipient_state_by_id(originator, version=version)
        assert own is not None  # its event was just read
        # The popup's fields other than its state never change: its latest version will do.
        seen = SeenPopup(store.popup(own.popup_id), own)
        return to_public(stored, seen, own, position=notification.id, path_template=path_template)
    popup = store.popup(originator, version=version)
    return to_public(stored, SeenPopup(popup), popup, position=notification.id, path_template=path_template)


def to_public(
    stored: object,
    seen: SeenPopup,
    changed: Popup | RecipientState,
    *,
    position: int,
    path_template: str,
) -> PublicEvent:
    """`changed` is the aggregate `stored` belongs to, as it was right after it (the same version);
    `seen` the popup as the event's recipients see it then."""
    type_ = event_type(stored)
    if type_ is None:
        raise ValueError(f"{type(stored).__qualname__} is not a public popup event")
    model = popups_v2.EVENT_TYPES[type_]
    fields: dict[str, object] = {"popup": snapshot(seen, path_template=path_template)}
    if model is popups_v2.PopupRaisedV2:
        fields["source_event_id"] = seen.popup.source_event_id
    elif model is popups_v2.PopupSnoozedV2:
        fields["until"] = seen.snoozed_until
    if isinstance(changed, RecipientState):
        fields["recipient_id"] = changed.user_id
    cause: Cause = changed.cause
    at: datetime = stored.at if isinstance(stored, Popup.Raised | Change) else changed.modified_on
    aggregate_id: UUID = changed.id
    # A recipient's first stored record (`Started`) is not published: their changes count from 1.
    aggregate_version = changed.version - 1 if isinstance(changed, RecipientState) else changed.version
    envelope = EventEnvelope[PopupEventDataV2](
        event_id=public_event_id(aggregate_id, changed.version),
        type=type_,
        schema_version=popups_v2.SCHEMA_VERSION,
        occurred_at=at,
        account_id=seen.account_id,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        ticket_number=seen.ticket_number,
        actor=Actor(kind=ActorKind(cause["actor_kind"]), id=cause["actor_id"], name=cause["actor_name"]),
        correlation_id=cause["correlation_id"],
        causation_id=cause["causation_id"],
        data=model.model_validate(fields),
    )
    return PublicEvent(
        position=position,
        subject=event_subject(popups_v2.DOMAIN, type_, popups_v2.SCHEMA_VERSION),
        envelope=envelope,
    )
