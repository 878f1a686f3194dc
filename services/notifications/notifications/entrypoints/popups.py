"""The hotel user's popups: the active list, one popup, and the actions on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from notifications.application.service import PopupService, Recipient
from notifications.application.views import Shown, navigation, snapshot
from notifications.components import Components
from notifications.domain.recipient import SeenPopup
from notifications.entrypoints.deps import HotelUser, Parts, recipient_of
from notifications.projections.active import ActivePopup
from shared.auth import Principal
from shared.contracts.popups import Navigation, PopupSnapshot

router = APIRouter(prefix="/api/v1/popups", tags=["popups"])


class PopupList(BaseModel):
    items: list[PopupSnapshot]


class SnoozeRequest(BaseModel):
    """ "Remind later": a chosen time, a chosen delay, or neither for the default delay."""

    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime | None = None
    minutes: int | None = Field(default=None, ge=1, le=366 * 24 * 60)

    @model_validator(mode="after")
    def _one_of(self) -> SnoozeRequest:
        if self.until is not None and self.minutes is not None:
            raise ValueError("give either until or minutes, not both")
        return self


class Opened(BaseModel):
    popup: PopupSnapshot
    navigate_to: Navigation | None = Field(description="Where the browser goes: the request, if any.")


def _view(parts: Components, popup: Shown) -> PopupSnapshot:
    return snapshot(popup, path_template=parts.settings.ticket_path_template, now=parts.clock.now())


@dataclass(frozen=True)
class PopupAction:
    """What every action on one popup shares: the caller, the request's correlation id, and the
    process's components."""

    principal: Principal
    parts: Components
    request: Request

    async def run(self, command: Callable[[PopupService, Recipient, str | None], SeenPopup]) -> SeenPopup:
        """Run one command for the caller in a thread, then let the relay publish what it recorded."""
        by, correlation_id = recipient_of(self.principal), self.request.state.correlation_id
        popup = await asyncio.to_thread(command, self.parts.service, by, correlation_id)
        self.parts.changed()
        return popup


async def popup_action(principal: HotelUser, parts: Parts, request: Request) -> PopupAction:
    return PopupAction(principal=principal, parts=parts, request=request)


Action = Annotated[PopupAction, Depends(popup_action)]


@router.get("", response_model=PopupList)
async def list_active(principal: HotelUser, parts: Parts) -> PopupList:
    """The popups to show now, for a client that just connected (then follow `/stream`)."""
    recipient, now = recipient_of(principal), parts.clock.now()

    def read() -> list[ActivePopup]:
        parts.active.catch_up()  # the caller's own commands are in the list it gets
        return parts.active.for_recipient(account_id=recipient.account_id, user_id=recipient.user_id, now=now)

    found = await asyncio.to_thread(read)
    return PopupList(items=[_view(parts, p) for p in found])


@router.get("/{popup_id}", response_model=PopupSnapshot)
async def get_popup(popup_id: UUID, principal: HotelUser, parts: Parts) -> PopupSnapshot:
    popup = await asyncio.to_thread(parts.service.get, popup_id, by=recipient_of(principal))
    return _view(parts, popup)


@router.post("/{popup_id}/delivered", response_model=PopupSnapshot)
async def mark_delivered(popup_id: UUID, action: Action) -> PopupSnapshot:
    """Shown on a screen; every tab may say so, only the first one is recorded. Like every action
    here, on a popup sent to the whole account it changes the caller's own state of it only."""
    popup = await action.run(
        lambda service, by, corr: service.mark_delivered(popup_id, by=by, correlation_id=corr)
    )
    return _view(action.parts, popup)


@router.post("/{popup_id}/snooze", response_model=PopupSnapshot)
async def snooze(
    popup_id: UUID,
    action: Action,
    body: Annotated[SnoozeRequest | None, Body()] = None,
) -> PopupSnapshot:
    """ "Remind later": hidden from every tab of the caller until the time comes, then shown again."""
    until = body.until if body else None
    if body is not None and body.minutes is not None:
        until = action.parts.clock.now() + timedelta(minutes=body.minutes)
    popup = await action.run(
        lambda service, by, corr: service.snooze(popup_id, by=by, until=until, correlation_id=corr)
    )
    return _view(action.parts, popup)


@router.post("/{popup_id}/open", response_model=Opened)
async def open_popup(popup_id: UUID, action: Action) -> Opened:
    """ "View fully": marks it opened in every tab of the caller and says where to go."""
    popup = await action.run(lambda service, by, corr: service.open(popup_id, by=by, correlation_id=corr))
    return Opened(
        popup=_view(action.parts, popup),
        navigate_to=navigation(popup, path_template=action.parts.settings.ticket_path_template),
    )


@router.post("/{popup_id}/delete", response_model=PopupSnapshot)
async def delete_popup(popup_id: UUID, action: Action) -> PopupSnapshot:
    """Gone from every tab of the caller, for good (the answer stays in the request's history)."""
    popup = await action.run(lambda service, by, corr: service.delete(popup_id, by=by, correlation_id=corr))
    return _view(action.parts, popup)
