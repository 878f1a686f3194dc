"""The hotel user's popup history: every popup they received, whatever became of it."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from notifications.application.views import navigation
from notifications.components import Components
from notifications.entrypoints.deps import HotelUser, Parts, recipient_of
from notifications.projections.history import HistoryEntry, HistoryQuery
from shared.contracts.popups import Navigation, PopupKind, PopupStatus
from shared.days import day_end, day_start, to_micros
from shared.errors import ErrorBody, Unprocessable
from shared.listing import decode_cursor, encode_cursor, zone_of

router = APIRouter(prefix="/api/v1/popups", tags=["popups"])


class PopupHistoryItem(BaseModel):
    """One popup the user received, in its current state; a deleted one keeps its text."""

    popup_id: UUID
    kind: PopupKind = Field(description="`ticket_reply`: support answered a request; `message`: direct.")
    status: PopupStatus = Field(
        description="Now: `raised`, `delivered`, `snoozed` (remind later), `due` (the snooze ended), "
        "`opened` (viewed fully) or `deleted`."
    )
    title: str
    text: str
    user_id: str | None = Field(description="None: sent to every user of the account.")
    ticket_id: UUID | None
    ticket_number: str | None
    raised_at: datetime
    changed_at: datetime = Field(description="When its status last changed (`raised_at` if never).")
    snoozed_until: datetime | None = Field(description="While snoozed: when it shows again.")
    version: int
    navigate_to: Navigation | None = Field(description="The request it is about, if any.")


class PopupHistoryPage(BaseModel):
    items: list[PopupHistoryItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


def _item(entry: HistoryEntry, parts: Components, now: datetime) -> PopupHistoryItem:
    return PopupHistoryItem(
        popup_id=entry.id,
        kind=entry.kind,
        status=entry.status_at(now),
        title=entry.title,
        text=entry.text,
        user_id=entry.user_id,
        ticket_id=entry.ticket_id,
        ticket_number=entry.ticket_number,
        raised_at=entry.raised_at,
        changed_at=entry.changed_at,
        snoozed_until=entry.snoozed_until if entry.status_at(now) is PopupStatus.SNOOZED else None,
        version=entry.version,
        navigate_to=navigation(entry, path_template=parts.settings.ticket_path_template),
    )


@router.get(
    "/history",
    response_model=PopupHistoryPage,
    summary="Every popup the user received, newest first, in its current state",
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def popup_history(
    principal: HotelUser,
    parts: Parts,
    date_from: Annotated[date | None, Query(description="Raised on or after this day (in `tz`).")] = None,
    date_to: Annotated[date | None, Query(description="Raised on or before this day (in `tz`).")] = None,
    tz: Annotated[
        str,
        Query(max_length=64, description="IANA time zone of the days, e.g. `Europe/Kyiv`; UTC when absent."),
    ] = "UTC",
    status: Annotated[list[PopupStatus] | None, Query(description="One or more statuses (as now).")] = None,
    kind: Annotated[PopupKind | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> PopupHistoryPage:
    """Support's replies and messages addressed to this user or to their whole account, including
    the ones opened or deleted since (a deleted popup's text stays readable here)."""
    zone = zone_of(tz)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Unprocessable("`date_from` is after `date_to`")
    recipient, now = recipient_of(principal), parts.clock.now()
    query = HistoryQuery(
        account_id=recipient.account_id,
        user_id=recipient.user_id,
        now_us=to_micros(now),
        statuses=status or (),
        kind=kind,
        raised_from_us=day_start(date_from, zone) if date_from else None,
        raised_to_us=day_end(date_to, zone) if date_to else None,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )

    def read() -> list[HistoryEntry]:
        parts.history.catch_up()  # the caller's own last actions are in what it gets
        return parts.history.page(query)

    rows = await asyncio.to_thread(read)
    page = rows[:limit]
    next_cursor = encode_cursor(to_micros(page[-1].raised_at), page[-1].id) if len(rows) > limit else None
    return PopupHistoryPage(items=[_item(entry, parts, now) for entry in page], next_cursor=next_cursor)
