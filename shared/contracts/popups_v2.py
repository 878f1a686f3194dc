"""Public events of the notifications service, version 2 (`helpdesk.popups.v2.*`): each user's own
state of a popup sent to their whole account.

A popup sent to every user of an account (`popup.user_id` null) is delivered, snoozed ("remind later"),
opened and deleted by each user for themselves. Version 1 cannot say whose change that is, so popup
events are written as version 2, side by side on the same `POPUPS` stream; the version 1 subjects
keep their history (read, no longer written).

A version 2 event is a version 1 one plus `recipient_id`:

- null: a change every recipient of the popup sees (raising it; every change of a popup to one
  user). `aggregate_id` is the popup's id and `aggregate_version` its version.
- a user id: that user's own change of a popup sent to their whole account; nobody else's screens
  follow it. `aggregate_id` is the id of that user's own state of the popup and `aggregate_version`
  counts their changes of it (1 for the first); `popup` is the popup as that user now sees it.

`popup.version` grows with every change its recipient sees, so a client keeps the newest state of a
popup by comparing it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from shared.contracts.envelope import EventEnvelope, parse_event
from shared.contracts.popups import PopupEventData

DOMAIN = "popups"
SCHEMA_VERSION = 2


class PopupEventDataV2(PopupEventData):
    recipient_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The user whose own state of a popup sent to their whole account changed; "
        "null when every recipient of the popup sees the change.",
    )

    @property
    def addressed_to(self) -> str | None:
        """The one user whose screens show this change; None: every user of the account."""
        return self.recipient_id if self.recipient_id is not None else self.popup.user_id


class PopupRaisedV2(PopupEventDataV2):
    """A new popup for one user or for every user of an account."""

    source_event_id: UUID | None = Field(
        default=None, description="The ticket event that raised it; None for a direct message."
    )


class PopupDeliveredV2(PopupEventDataV2):
    """Shown on at least one screen of the recipient."""


class PopupSnoozedV2(PopupEventDataV2):
    """ "Remind later": hidden from the recipient until `until`."""

    until: datetime


class PopupDueAgainV2(PopupEventDataV2):
    """A snooze came to its end: the popup shows again to its recipient."""


class PopupOpenedV2(PopupEventDataV2):
    """ "View fully": the recipient went to `popup.navigate_to`."""


class PopupDeletedV2(PopupEventDataV2):
    """Final: the popup is gone from every screen of the recipient."""


# Event type → data model. The subject is event_subject(DOMAIN, type, SCHEMA_VERSION).
EVENT_TYPES: dict[str, type[PopupEventDataV2]] = {
    "popup.raised": PopupRaisedV2,
    "popup.delivered": PopupDeliveredV2,
    "popup.snoozed": PopupSnoozedV2,
    "popup.due_again": PopupDueAgainV2,
    "popup.opened": PopupOpenedV2,
    "popup.deleted": PopupDeletedV2,
}


def parse_popup_event(raw: bytes | str) -> EventEnvelope[PopupEventDataV2]:
    """Validate a published version 2 popup event; see `shared.contracts.envelope.parse_event`."""
    return parse_event(raw, EVENT_TYPES)
