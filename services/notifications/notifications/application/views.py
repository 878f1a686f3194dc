"""The popup as its recipient and the public events see it (`shared.contracts.popups.PopupSnapshot`)."""

from __future__ import annotations

from datetime import datetime

from notifications.domain.model import Popup
from shared.contracts.popups import Navigation, PopupSnapshot


def navigation(popup: Popup, *, path_template: str) -> Navigation | None:
    """Where "view fully" goes: the request, when the popup is about one."""
    if popup.ticket_number is None and popup.ticket_id is None:
        return None
    path = path_template.format(ticket_number=popup.ticket_number or "", ticket_id=popup.ticket_id or "")
    return Navigation(ticket_id=popup.ticket_id, ticket_number=popup.ticket_number, path=path)


def snapshot(popup: Popup, *, path_template: str, now: datetime | None = None) -> PopupSnapshot:
    """`now` given: the status as seen at that time (a snooze whose time has come shows as due)."""
    status = popup.status if now is None else popup.status_at(now)
    return PopupSnapshot(
        popup_id=popup.id,
        account_id=popup.account_id,
        user_id=popup.user_id,
        kind=popup.kind,
        status=status,
        title=popup.title,
        text=popup.text,
        ticket_id=popup.ticket_id,
        ticket_number=popup.ticket_number,
        raised_at=popup.raised_at,
        snoozed_until=popup.snoozed_until,
        version=popup.version,
        navigate_to=navigation(popup, path_template=path_template),
    )
