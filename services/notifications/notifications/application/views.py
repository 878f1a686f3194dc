"""The popup as its recipient and the public events see it (`shared.contracts.popups.PopupSnapshot`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from shared.contracts.popups import Navigation, PopupKind, PopupSnapshot, PopupStatus


class Shown(Protocol):
    """What a view needs of a popup: the aggregate itself, or a row of the active-popups view."""

    @property
    def id(self) -> UUID: ...
    @property
    def account_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def kind(self) -> PopupKind: ...
    @property
    def status(self) -> PopupStatus: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def ticket_id(self) -> UUID | None: ...
    @property
    def ticket_number(self) -> str | None: ...
    @property
    def raised_at(self) -> datetime: ...
    @property
    def snoozed_until(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...

    def status_at(self, now: datetime) -> PopupStatus: ...


def navigation(popup: Shown, *, path_template: str) -> Navigation | None:
    """Where "view fully" goes: the request, when the popup is about one."""
    if popup.ticket_number is None and popup.ticket_id is None:
        return None
    path = path_template.format(ticket_number=popup.ticket_number or "", ticket_id=popup.ticket_id or "")
    return Navigation(ticket_id=popup.ticket_id, ticket_number=popup.ticket_number, path=path)


def snapshot(popup: Shown, *, path_template: str, now: datetime | None = None) -> PopupSnapshot:
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
