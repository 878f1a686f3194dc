"""The support directory's API: contacts and hours for anyone (no token), changes for support admins.

`GET /api/v1/support/directory` answers without a token: each topic's name in the caller's language
(`lang`, else `Accept-Language`), whether it is answered now, when it next opens (or closes), in the
caller's zone (`tz`) and in the zone of the topic's own calendar, and the contacts; it also carries
the whole document and its version (`ETag`). Admins (`admin` role) change it with `PUT`s based on that
version (`If-Match`); each change is one event on the directory's stream (published by its relay,
never from the request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from shared.auth import Principal, Role, requires_role
from shared.calendar import CalendarInvalid, zone
from shared.contracts.directory import (
    LANGUAGES,
    CalendarSpec,
    Contacts,
    ResponseTargets,
    SupportDirectory,
    TopicSpec,
)
from shared.directory import DirectoryView
from shared.errors import ErrorBody, ErrorDetail, Unprocessable
from shared.logging import get_logger
from shared.parsing import expected_version
from tickets.application.directory import DirectoryChange, DirectoryService
from tickets.domain.errors import InvalidInput
from tickets.domain.values import Actor, ActorKind

log = get_logger(__name__)

PREFIX = "/api/v1/support/directory"
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 409, 412, 422)}
AdminUser = Annotated[Principal, Depends(requires_role(Role.ADMIN))]
Language = Literal["uk", "ru", "en", "pl"]
Edit = Callable[[dict[str, Any]], dict[str, Any]]  # the directory document, changed


class Moment(BaseModel):
    """One instant, as UTC, as wall-clock time in the caller's zone and, for a topic's opening or
    closing, in the zone its calendar keeps (`TopicHours.time_zone`)."""

    utc: datetime
    local: datetime
    calendar: datetime | None = Field(
        default=None, description="In the topic's calendar's zone (null for the directory's `now`)."
    )


class TopicHours(BaseModel):
    id: str
    name: str
    team: str
    email: str
    calendar: str
    time_zone: str = Field(description="The IANA zone the topic's calendar keeps its hours in.")
    always_open: bool
    open_now: bool
    opens_at: Moment | None = Field(description="When closed: the next opening (null: not within a year).")
    closes_at: Moment | None = Field(description="When open: when it closes (null: it does not).")


class PhoneOut(BaseModel):
    country: str
    number: str
    note: str


class EmailOut(BaseModel):
    email: str
    subject: str


class PublicDirectory(BaseModel):
    version: int
    language: Language
    time_zone: str = Field(description="The caller's zone the `local` times are in.")
    now: Moment
    topics: list[TopicHours]
    phones: list[PhoneOut]
    emails: list[EmailOut]
    directory: SupportDirectory = Field(description="The whole document (what admins change).")


class DirectoryChanged(BaseModel):
    version: int
    changed: bool
    directory: SupportDirectory


def directory_of(request: Request) -> DirectoryService:
    service: DirectoryService = request.app.state.directory
    return service


Directory = Annotated[DirectoryService, Depends(directory_of)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The directory version (ETag) seen.")]


def choose_language(lang: str | None, accept_language: str | None) -> Language:
    if lang in LANGUAGES:
        return lang  # type: ignore[return-value]
    for part in (accept_language or "").split(",")[:16]:
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code  # type: ignore[return-value]
    return "en"


def caller_zone(tz: str) -> Any:
    try:
        return zone(tz, field="tz")
    except CalendarInvalid as exc:
        detail = ErrorDetail(loc=["query", "tz"], msg=str(exc), type="time_zone")
        raise Unprocessable(str(exc), details=[detail]) from None


def public_view(view: DirectoryView, *, language: Language, tz: str, now: datetime) -> PublicDirectory:
    local = caller_zone(tz)

    def moment(at: datetime | None, calendar: tzinfo | None = None) -> Moment | None:
        if at is None:
            return None
        kept = at.astimezone(calendar) if calendar is not None else None
        return Moment(utc=at.astimezone(UTC), local=at.astimezone(local), calendar=kept)

    topics = []
    for topic in view.document.topics:
        status = view.status(topic.id, now)
        assert status is not None  # the topic is the view's own
        calendar = view.calendars[topic.calendar]
        topics.append(
            TopicHours(
                id=topic.id,
                name=topic.names.get(language),
                team=topic.team,
                email=topic.email,
                calendar=topic.calendar,
                time_zone=calendar.time_zone,
                always_open=calendar.always_open,
                open_now=status.open_now,
                opens_at=moment(status.opens_at, calendar.tz),
                closes_at=moment(status.closes_at, calendar.tz),
            )
        )
    contacts = view.document.contacts
    now_moment = moment(now)
    assert now_moment is not None
    return PublicDirectory(
        version=view.version,
        language=language,
        time_zone=tz,
        now=now_moment,
        topics=topics,
        phones=[
            PhoneOut(country=p.country, number=p.number, note=p.note.get(language)) for p in contacts.phones
        ],
        emails=[EmailOut(email=e.email, subject=e.subject.get(language)) for e in contacts.emails],
        directory=view.document,
    )


def admin_actor(principal: Principal) -> Actor:
    return Actor(kind=ActorKind.AGENT, id=principal.sub, name=principal.name)


def _relative(exc: InvalidInput, prefix: str) -> InvalidInput:
    """A rule broken inside one part, named from that part's body (`calendars[1].weekly[0].end` →
    `weekly[0].end` for a `PUT .../calendars/{id}`)."""
    if prefix and exc.field.startswith(prefix):
        return InvalidInput(str(exc), field=exc.field.removeprefix(prefix).lstrip("."))
    return exc


@dataclass(frozen=True)
class DirectoryEdit:
    """What every admin change shares: who makes it, the version it is based on (`If-Match`), and the
    answer's `ETag`."""

    request: Request
    response: Response
    directory: DirectoryService
    principal: Principal
    if_match: str | None

    async def apply(self, edit: Edit, item: tuple[str, str] | None = None) -> DirectoryChanged:
        """Replace the document with `edit(document)`; `item` (list key, id): the part a rule broken
        inside it is named from."""
        directory, principal = self.directory, self.principal
        expected = expected_version(self.if_match)
        correlation = getattr(self.request.state, "correlation_id", None)

        def run() -> DirectoryChange:
            current = directory.view()
            document = edit(current.document.model_dump(mode="json"))
            prefix = ""
            if item is not None:
                key, item_id = item
                index = next(i for i, x in enumerate(document[key]) if x["id"] == item_id)
                prefix = f"{key}[{index}]"
            try:
                return directory.replace(
                    document=document,
                    actor=admin_actor(principal),
                    expected_version=expected,
                    correlation_id=correlation,
                )
            except InvalidInput as exc:
                raise _relative(exc, prefix) from None

        result = await asyncio.to_thread(run)
        relay = getattr(self.request.app.state, "directory_relay", None)
        if relay is not None and result.changed:
            relay.wake()
        log.info(
            "directory_changed",
            version=result.view.version,
            changed=result.changed,
            part=item[0] if item else "all",
        )
        self.response.headers["ETag"] = f'"{result.view.version}"'
        return DirectoryChanged(
            version=result.view.version, changed=result.changed, directory=result.view.document
        )


async def directory_edit(
    request: Request,
    response: Response,
    directory: Directory,
    principal: AdminUser,
    if_match: IfMatch = None,
) -> DirectoryEdit:
    return DirectoryEdit(
        request=request, response=response, directory=directory, principal=principal, if_match=if_match
    )


AdminEdit = Annotated[DirectoryEdit, Depends(directory_edit)]
router = APIRouter(prefix=PREFIX, tags=["support directory"], responses=ERRORS)


@router.get(
    "",
    response_model=PublicDirectory,
    summary="Support's contacts, topics and hours; open now and next opening (no token needed)",
)
async def read(
    request: Request,
    response: Response,
    directory: Directory,
    lang: Annotated[Language | None, Query(description="uk, ru, en or pl; else Accept-Language.")] = None,
    tz: Annotated[str, Query(max_length=64, description="The caller's IANA zone.")] = "UTC",
    accept_language: Annotated[str | None, Header(alias="Accept-Language", include_in_schema=False)] = None,
) -> PublicDirectory:
    language = choose_language(lang, accept_language)
    view = await directory.current()
    response.headers["ETag"] = f'"{view.version}"'
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-cache"
    return public_view(view, language=language, tz=tz, now=request.app.state.clock())


@router.put("", response_model=DirectoryChanged, summary="Replace the whole directory (admins)")
async def replace_all(body: SupportDirectory, edit: AdminEdit) -> DirectoryChanged:
    document = body.model_dump(mode="json")
    return await edit.apply(lambda _: document)


@router.put("/calendars/{calendar_id}", response_model=DirectoryChanged, summary="Add or replace a calendar")
async def put_calendar(calendar_id: str, body: CalendarSpec, edit: AdminEdit) -> DirectoryChanged:
    _same_id(calendar_id, body.id)
    return await edit.apply(_upsert("calendars", body), ("calendars", body.id))


@router.put("/topics/{topic_id}", response_model=DirectoryChanged, summary="Add or replace a topic")
async def put_topic(topic_id: str, body: TopicSpec, edit: AdminEdit) -> DirectoryChanged:
    _same_id(topic_id, body.id)
    return await edit.apply(_upsert("topics", body), ("topics", body.id))


@router.put("/contacts", response_model=DirectoryChanged, summary="Replace the phones and e-mails")
async def put_contacts(body: Contacts, edit: AdminEdit) -> DirectoryChanged:
    value = body.model_dump(mode="json")
    return await edit.apply(lambda d: {**d, "contacts": value})


@router.put("/response-targets", response_model=DirectoryChanged, summary="First-response targets")
async def put_targets(body: ResponseTargets, edit: AdminEdit) -> DirectoryChanged:
    value = body.model_dump(mode="json")
    return await edit.apply(lambda d: {**d, "response_targets": value})


def _same_id(path_id: str, body_id: str) -> None:
    if path_id != body_id:
        detail = ErrorDetail(loc=["body", "id"], msg="the id differs from the path's", type="value_error")
        raise Unprocessable("the id in the body differs from the path's", details=[detail])


def _upsert(key: str, body: BaseModel) -> Edit:
    item = body.model_dump(mode="json")

    def edit(document: dict[str, Any]) -> dict[str, Any]:
        items = list(document[key])
        for i, existing in enumerate(items):
            if existing["id"] == item["id"]:
                items[i] = item
                break
        else:
            items.append(item)
        return {**document, key: items}

    return edit
