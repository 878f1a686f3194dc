"""Public events of the notifications service (`helpdesk.popups.v1.*`).

Every event carries the popup's full state after the event (`popup`), so a consumer (a browser tab,
another OtelMS service) can upsert it without having seen the earlier events; the event-specific
fields come next to it. Popups addressed to a whole account have `user_id = None`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import EventEnvelope, parse_event

DOMAIN = "popups"
SCHEMA_VERSION = 1


class PopupStatus(StrEnum):
    RAISED = "raised"
    DELIVERED = "delivered"
    SNOOZED = "snoozed"
    DUE = "due"
    OPENED = "opened"
    DELETED = "deleted"


class PopupKind(StrEnum):
    TICKET_REPLY = "ticket_reply"
    MESSAGE = "message"


class Navigation(BaseModel):
    """Where "view fully" takes the user: the request the popup is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: UUID | None = None
    ticket_number: str | None = Field(default=None, max_length=32)
    path: str = Field(max_length=300, description="Path of the request in the OtelMS Help menu.")


class PopupSnapshot(BaseModel):
    """A popup's state as shown to its recipient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    popup_id: UUID
    account_id: str = Field(min_length=1, max_length=64)
    user_id: str | None = Field(default=None, description="None: every user of the account.")
    kind: PopupKind
    status: PopupStatus
    title: str = Field(max_length=200)
    text: str
    ticket_id: UUID | None = None
    ticket_number: str | None = Field(default=None, max_length=32)
    raised_at: datetime
    snoozed_until: datetime | None = None
    version: int = Field(ge=1, description="The popup's version after this change.")
    navigate_to: Navigation | None = None


class PopupEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    popup: PopupSnapshot


class PopupRaised(PopupEventData):
    source_event_id: UUID | None = Field(
        default=None, description="The ticket event that raised it; None for a direct message."
    )


class PopupDelivered(PopupEventData):
    """Shown on at least one screen of the recipient."""


class PopupSnoozed(PopupEventData):
    """ "Remind later": hidden until `until`."""

    until: datetime


class PopupDueAgain(PopupEventData):
    """A snooze came to its end: the popup shows again."""


class PopupOpened(PopupEventData):
    """ "View fully": the user went to `popup.navigate_to`."""


class PopupDeleted(PopupEventData):
    """Final: the popup is gone from every screen."""


# Event type → data model. The subject is event_subject(DOMAIN, type, SCHEMA_VERSION).
EVENT_TYPES: dict[str, type[PopupEventData]] = {
    "popup.raised": PopupRaised,
    "popup.delivered": PopupDelivered,
    "popup.snoozed": PopupSnoozed,
    "popup.due_again": PopupDueAgain,
    "popup.opened": PopupOpened,
    "popup.deleted": PopupDeleted,
}
# Version 1 stays on the POPUPS stream for replay; popups are published as version 2 now
# (`shared.contracts.popups_v2`).
HISTORY_ONLY = frozenset(EVENT_TYPES)


def parse_popup_event(raw: bytes | str) -> EventEnvelope[PopupEventData]:
    """Validate a published popup event; see `shared.contracts.envelope.parse_event`."""
    return parse_event(raw, EVENT_TYPES)
