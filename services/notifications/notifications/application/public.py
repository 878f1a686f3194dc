"""Stored popup events → public events (`shared.contracts.popups`): the stored form is not the public one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifications.application.views import snapshot
from notifications.domain.ids import public_event_id
from notifications.domain.model import Popup
from shared.contracts import popups
from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.popups import PopupEventData
from shared.contracts.subjects import event_subject

_TYPES: dict[type[object], str] = {
    Popup.Raised: "popup.raised",  # type: ignore[attr-defined]
    Popup.Delivered: "popup.delivered",  # type: ignore[attr-defined]
    Popup.Snoozed: "popup.snoozed",  # type: ignore[attr-defined]
    Popup.DueAgain: "popup.due_again",  # type: ignore[attr-defined]
    Popup.Opened: "popup.opened",  # type: ignore[attr-defined]
    Popup.Deleted: "popup.deleted",  # type: ignore[attr-defined]
}


@dataclass(frozen=True)
class PublicEvent:
    """One public event ready to publish; `position` is its place in the store's notification log."""

    position: int
    subject: str
    envelope: EventEnvelope[PopupEventData]

    def body(self) -> bytes:
        return self.envelope.model_dump_json(serialize_as_any=True).encode()


def event_type(stored: object) -> str | None:
    """The public type of a stored event, or None for events that are not published (requesters)."""
    return _TYPES.get(type(stored))


def to_public(stored: object, popup: Popup, *, position: int, path_template: str) -> PublicEvent:
    """`popup` is the aggregate as it was right after `stored` (the same version)."""
    type_ = event_type(stored)
    if type_ is None:
        raise ValueError(f"{type(stored).__qualname__} is not a public popup event")
    view = snapshot(popup, path_template=path_template)
    model = popups.EVENT_TYPES[type_]
    fields: dict[str, object] = {"popup": view}
    if model is popups.PopupRaised:
        fields["source_event_id"] = popup.source_event_id
    elif model is popups.PopupSnoozed:
        fields["until"] = popup.snoozed_until
    cause = popup.cause
    at: datetime = getattr(stored, "at", None) or popup.modified_on
    envelope = EventEnvelope[PopupEventData](
        event_id=public_event_id(popup.id, popup.version),
        type=type_,
        schema_version=popups.SCHEMA_VERSION,
        occurred_at=at,
        account_id=popup.account_id,
        aggregate_id=popup.id,
        aggregate_version=popup.version,
        ticket_number=popup.ticket_number,
        actor=Actor(kind=ActorKind(cause["actor_kind"]), id=cause["actor_id"], name=cause["actor_name"]),
        correlation_id=cause["correlation_id"],
        causation_id=cause["causation_id"],
        data=model.model_validate(fields),
    )
    return PublicEvent(
        position=position,
        subject=event_subject(popups.DOMAIN, type_, popups.SCHEMA_VERSION),
        envelope=envelope,
    )
