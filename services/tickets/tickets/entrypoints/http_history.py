"""Request history over HTTP: the list (a hotel's own, or every account's for support), its counts per
status (the support inbox's tabs) and one ticket with its timeline, read from the history views.

Read-your-writes: a command answers with the ticket's id and version; passing them back
(`ticket_id` + `min_version` on the list, `min_version` on a ticket) makes the read wait, at most
`wait_timeout` seconds, until the view has caught up. The `X-History-Consistent` header says whether
it did (`false`: the answer may be older than the client's last write). Only a ticket the caller may
read can make it `true`: another account's ticket waits and answers like one that does not exist.

Topics and statuses come with labels in the caller's language (`lang`, else `Accept-Language`), and
each row of the list with its `#`: its position in the caller's filtered, sorted list.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import date, tzinfo
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Cookie, Depends, Header, Query, Request, Response
from pydantic import Field

from shared.auth import AccountScope, CurrentUser, Principal, Role, account_scope
from shared.contracts.tickets import Importance, Priority, Status
from shared.days import day_bounds, from_micros
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.listing import encode_cursor, read_cursor, zone_of
from shared.parsing import preferred_language
from shared.types import TextOnly
from tickets.adapters.topic_names import SettingsTopicNames
from tickets.application.labels import DEFAULT_LANGUAGE, Language, TopicNames, status_label
from tickets.domain.values import ALLOWED_TRANSITIONS
from tickets.domain.values import Status as LifecycleStatus
from tickets.entrypoints.http_history_models import (
    StatusCounts,
    TicketCounts,
    TicketDetail,
    TicketPage,
)
from tickets.entrypoints.last_write import COOKIE, forget_write, last_write
from tickets.projections.history import timeline_item
from tickets.projections.store import NO_DUE_US, HistoryStore, ListQuery
from tickets.projections.waiter import ViewWaiter
from tickets.settings import DEFAULT_TOPICS

CONSISTENT_HEADER = "X-History-Consistent"
ETAG_HEADER = {
    "description": 'The version shown, e.g. `"5"`: send it as `If-Match` with the next change.',
    "schema": {"type": "string"},
}
LastWrite = Annotated[
    str | None,
    Cookie(alias=COOKIE, include_in_schema=False, description="Set by the commands: read-your-writes."),
]


def allowed_statuses(current: str) -> list[Status]:
    """Where the lifecycle (`domain/values.py`) lets a ticket in `current` go, in lifecycle order."""
    allowed = ALLOWED_TRANSITIONS[LifecycleStatus(current)]
    return [Status(s.value) for s in LifecycleStatus if s in allowed]


def _sort_key(row: dict[str, Any], sort: str) -> int:
    """The keyset cursor's position of `row` in the list's order."""
    if sort == "due":
        due = row.get("first_response_due_us")
        return int(due) if due is not None else NO_DUE_US
    return int(row["updated_us"])


def _summary(row: dict[str, Any], *, staff: bool, words: Words) -> dict[str, Any]:
    item = {
        "ticket_id": row["ticket_id"],
        "number": row["number"],
        "account_id": row["account_id"],
        "topic": row["topic"],
        "topic_label": words.topics.name(row["topic"], words.lang),
        "status": row["status"],
        "status_label": status_label(row["status"], words.lang, for_support=staff),
        "importance": row["importance"],
        "comment": row["comment"],
        "created_at": from_micros(row["created_us"]),
        "updated_at": from_micros(row["updated_us"]),
        "first_response_due": (
            from_micros(row["first_response_due_us"])
            if row.get("first_response_due_us") is not None
            else None
        ),
        "version": row["version"],
    }
    if staff:
        item["priority"] = row["priority"]
        if row["assignee_id"]:
            item["assignee"] = {"id": row["assignee_id"], "name": row["assignee_name"]}
    return item


@dataclass(frozen=True)
class Words:
    """Where labels come from, and in which language."""

    topics: TopicNames
    lang: Language


# The routes' dependencies are `async def` although none of them waits for anything: FastAPI runs a
# plain function on its thread pool, a hand-over there and back for each one on every read.
async def caller_language(
    response: Response,
    lang: Annotated[
        Language | None, Query(description="The labels' language; else `Accept-Language`, else en.")
    ] = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language", include_in_schema=False)] = None,
) -> Language:
    """The language of the labels, also sent back as `Content-Language`."""
    chosen = lang or Language(preferred_language(accept_language, list(Language), DEFAULT_LANGUAGE))
    response.headers["Content-Language"] = chosen.value
    response.headers["Vary"] = "Accept-Language"
    return chosen


CallerLanguage = Annotated[Language, Depends(caller_language)]


def _date_range(
    day: date | None, date_from: date | None, date_to: date | None, zone: tzinfo
) -> tuple[int | None, int | None]:
    if day is not None:
        if date_from is not None or date_to is not None:
            raise Unprocessable("give either `date` or `date_from`/`date_to`, not both")
        return day_bounds(day, day, zone)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Unprocessable("`date_from` is after `date_to`")
    start = day_bounds(date_from, date_from, zone)[0] if date_from else None
    end = day_bounds(date_to, date_to, zone)[1] if date_to else None
    return start, end


TimeZoneName = Annotated[
    str,
    Query(
        max_length=64,
        description="IANA time zone the days of `date`, `date_from` and `date_to` are taken in "
        "(e.g. `Europe/Kyiv`); UTC when absent.",
    ),
]


def _check_staff_filters(principal: Principal, **filters: object) -> None:
    if principal.role is Role.AGENT:
        return
    used = [name for name, value in filters.items() if value not in (None, False, [])]
    if used:
        raise Forbidden(f"only support may filter by {', '.join(used)}")


TopicId = Annotated[str, Field(min_length=1, max_length=100), TextOnly]
MAX_CHOICES = 20


async def inbox_filters(
    principal: CurrentUser,
    topic: Annotated[
        list[TopicId] | None, Query(max_length=MAX_CHOICES, description="One or more topic ids.")
    ] = None,
    importance: Annotated[
        list[Importance] | None, Query(max_length=4, description="One or more importances (the user's).")
    ] = None,
    day: Annotated[date | None, Query(alias="date", description="Created on this day (`tz`).")] = None,
    date_from: Annotated[date | None, Query(description="Created on or after this day (`tz`).")] = None,
    date_to: Annotated[date | None, Query(description="Created on or before this day (`tz`).")] = None,
    tz: TimeZoneName = "UTC",
    account_id: Annotated[str | None, Query(max_length=64, description="Support only."), TextOnly] = None,
    priority: Annotated[
        list[Priority] | None, Query(max_length=4, description="Support only: one or more priorities.")
    ] = None,
    assignee: Annotated[str | None, Query(max_length=128, description="Support only."), TextOnly] = None,
    unassigned: Annotated[bool, Query(description="Support only.")] = False,
) -> ListQuery:
    """The filters the list and its counts share, checked and scoped to the caller.

    Every filter combines with the others (AND); the values of one repeated filter are a choice
    (OR). A hotel user sees their own account only and may not use support's filters (403); who may
    read which account is `shared.auth.account_scope`'s to say."""
    _check_staff_filters(
        principal,
        account_id=account_id,
        priority=priority or None,
        assignee=assignee,
        unassigned=unassigned,
    )
    if assignee is not None and unassigned:
        raise Unprocessable("give either `assignee` or `unassigned`, not both")
    scope = account_scope(principal, requested=account_id)
    created_from, created_to = _date_range(day, date_from, date_to, zone_of(tz))
    return ListQuery(
        account_id=scope.account_id,
        topics=sorted(set(topic or ())),
        importances=sorted({i.value for i in importance or ()}),
        priorities=sorted({p.value for p in priority or ()}),
        assignee_id=assignee,
        unassigned=unassigned,
        created_from_us=created_from,
        created_to_us=created_to,
    )


Filters = Annotated[ListQuery, Depends(inbox_filters)]


@dataclass(frozen=True)
class HistoryReads:
    """How the history routes read the views (`app.state.history_reads`, set by the composition root).

    `waiter`: a projector's notice that wakes a read-your-writes wait, which lasts at most
    `wait_timeout` seconds; `secure_cookies`: the read-your-writes cookie is `Secure` (production,
    behind TLS); `topic_names`: the topics' names (the default topics' when not given)."""

    waiter: ViewWaiter = field(default_factory=ViewWaiter)
    wait_timeout: float = 2.0
    secure_cookies: bool = False
    topic_names: TopicNames = field(default_factory=lambda: SettingsTopicNames(DEFAULT_TOPICS))

    async def caught_up(
        self, store: HistoryStore, ticket_id: str, min_version: int | None, scope: AccountScope
    ) -> bool:
        """Whether the view holds `ticket_id` at `min_version`, among the tickets `scope` may read."""
        if min_version is None:
            return True
        account = None if scope.every_account else scope.account_id
        read = False  # the last `check()` found it: no need to read the view again

        async def check() -> bool:
            nonlocal read
            version = await asyncio.to_thread(store.ticket_version, ticket_id, account_id=account)
            read = version is not None and version >= min_version
            return read

        # A projector's notice wakes the wait whatever account the ticket is in: only a ticket the
        # caller may read counts, and any other waits out the time, just like one that does not exist.
        deadline = time.monotonic() + self.wait_timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            released = await self.waiter.wait_for(ticket_id, min_version, check, within=remaining)
            if released and (read or await check()):
                return True
            if time.monotonic() >= deadline:
                return False


async def history_of(request: Request) -> HistoryStore:
    """The process's history store (opened in the lifespan)."""
    store: HistoryStore = request.app.state.history
    return store


async def reads_of(request: Request) -> HistoryReads:
    reads: HistoryReads = request.app.state.history_reads
    return reads


History = Annotated[HistoryStore, Depends(history_of)]
Reads = Annotated[HistoryReads, Depends(reads_of)]
router = APIRouter(prefix="/api/v1/tickets", tags=["history"])


@router.get("", response_model=TicketPage, summary="List requests, newest update first")
async def list_tickets(
    principal: CurrentUser,
    response: Response,
    filters: Filters,
    lang: CallerLanguage,
    store: History,
    reads: Reads,
    status: Annotated[list[Status] | None, Query(max_length=5, description="One or more statuses.")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    sort: Annotated[
        Literal["updated", "due"],
        Query(description="`updated`: newest update first; `due`: earliest first-response due first."),
    ] = "updated",
    ticket_id: Annotated[UUID | None, Query(description="Read-your-writes: with `min_version`.")] = None,
    min_version: Annotated[int | None, Query(ge=1)] = None,
    last_write_cookie: LastWrite = None,
) -> dict[str, Any]:
    if (ticket_id is None) != (min_version is None):
        raise Unprocessable("`ticket_id` and `min_version` go together")
    scope = account_scope(principal)
    after = read_cursor(cursor) if cursor else None
    query = replace(
        filters,
        statuses=sorted({s.value for s in status or ()}),
        after=after.key if after else None,
        limit=limit + 1,
        sort=sort,
    )
    if ticket_id is not None:
        consistent = await reads.caught_up(store, str(ticket_id), min_version, scope)
    else:  # the caller's own last write, if its cookie came along (`last_write.py`)
        own = last_write(last_write_cookie)
        consistent = await reads.caught_up(store, *own, scope) if own else True
        if own and consistent:
            forget_write(response, secure=reads.secure_cookies)
    response.headers[CONSISTENT_HEADER] = "true" if consistent else "false"
    rows = await asyncio.to_thread(store.list_tickets, query)
    staff, words = principal.role is Role.AGENT, Words(topics=reads.topic_names, lang=lang)
    page, shown = rows[:limit], after.shown if after else 0
    next_cursor = (
        encode_cursor(_sort_key(page[-1], sort), page[-1]["ticket_id"], shown=shown + len(page))
        if len(rows) > limit
        else None
    )
    items = [{**_summary(r, staff=staff, words=words), "ordinal": shown + n} for n, r in enumerate(page, 1)]
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/counts",
    response_model=TicketCounts,
    summary="Requests per status under the list's filters (all but `status`)",
)
async def count_tickets(filters: Filters, store: History) -> TicketCounts:
    counts = await asyncio.to_thread(store.count_by_status, filters)
    by_status = StatusCounts(**{s.value: counts.get(s.value, 0) for s in Status})
    return TicketCounts(by_status=by_status, total=sum(by_status.model_dump().values()))


@router.get(
    "/{ticket_id}",
    response_model=TicketDetail,
    summary="One request with its timeline and the statuses it may move to",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}},
)
async def get_ticket(
    ticket_id: UUID,
    principal: CurrentUser,
    response: Response,
    lang: CallerLanguage,
    store: History,
    reads: Reads,
    min_version: Annotated[int | None, Query(ge=1, description="Read-your-writes.")] = None,
    last_write_cookie: LastWrite = None,
) -> dict[str, Any]:
    key, scope = str(ticket_id), account_scope(principal)
    own = last_write(last_write_cookie)
    if min_version is None and own is not None and own[0] == key:
        min_version = own[1]  # this caller just changed this very ticket
    consistent = await reads.caught_up(store, key, min_version, scope)
    if own is not None and own[0] == key and consistent:
        forget_write(response, secure=reads.secure_cookies)
    response.headers[CONSISTENT_HEADER] = "true" if consistent else "false"
    row = await asyncio.to_thread(store.get_ticket, key)
    if row is None or not scope.allows(row["account_id"]):
        raise NotFound("no such request")
    staff = principal.role is Role.AGENT
    timeline = await asyncio.to_thread(store.timeline, key, include_internal=staff)
    response.headers["ETag"] = f'"{row["version"]}"'
    return {
        **_summary(row, staff=staff, words=Words(topics=reads.topic_names, lang=lang)),
        "allowed_statuses": allowed_statuses(row["status"]),
        "timeline": [timeline_item(t) for t in timeline],
    }
