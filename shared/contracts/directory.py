"""Public events of the support directory (`helpdesk.directory.v1.*`), owned by the tickets service.

The directory is what support publishes about itself: the topics a request or a chat is filed under
(names in uk/ru/en/pl, the team that answers, the contact e-mail, the calendar), the contact channels
(phones by country, e-mails by subject), the calendars (time zone, weekly hours, always-open, holidays,
one-off closures) and the first-response targets per importance. Every change publishes the whole
directory as it is after the change, with its version, so a consumer keeps only the latest message
(replaying the stream from the start gives the same end state). Chat follows it to route and to answer
outside hours; other OtelMS services may show the same contacts and hours.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.envelope import EventEnvelope, parse_event
from shared.contracts.subjects import DIRECTORY_STREAM

DOMAIN = "directory"
SCHEMA_VERSION = 1
STREAM = DIRECTORY_STREAM
# The directory is the product's, not a hotel's: the envelope's account id for its events.
DIRECTORY_ACCOUNT_ID = "otelms"

LANGUAGES = ("uk", "ru", "en", "pl")
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_email(value: str) -> str:
    """`value` when it is an e-mail address (`name@domain.tld`), else `ValueError`."""
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(check_email)]


class Localised(_Model):
    """One text in each of the product's languages."""

    uk: str = Field(min_length=1, max_length=300)
    ru: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)
    pl: str = Field(min_length=1, max_length=300)

    def get(self, language: str) -> str:
        return str(getattr(self, language if language in LANGUAGES else "en"))


class WeeklyHours(_Model):
    """Open on `day` from `start` to `end` (local time of the calendar's zone; `end` may be 24:00)."""

    day: Weekday
    start: HourMinute
    end: HourMinute


class Closure(_Model):
    """A one-off closure, from `start` to `end`."""

    start: AwareDatetime
    end: AwareDatetime
    note: str = Field(default="", max_length=300)


class CalendarSpec(_Model):
    id: Slug
    time_zone: str = Field(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Kyiv.")
    always_open: bool = False
    weekly: list[WeeklyHours] = Field(default_factory=list, max_length=100)
    holidays: list[date] = Field(default_factory=list, max_length=1000)
    closures: list[Closure] = Field(default_factory=list, max_length=1000)


class TopicSpec(_Model):
    """A subject a request or a chat is filed under."""

    id: Slug
    names: Localised
    team: Slug = Field(description="The support team that answers this topic (chat routes to it first).")
    email: Email = Field(description="Where to write about this topic.")
    calendar: Slug = Field(description="The id of the calendar this topic is answered by.")


class Phone(_Model):
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 country code.")
    number: str = Field(min_length=3, max_length=40)
    note: Localised


class EmailContact(_Model):
    email: Email
    subject: Localised = Field(description="What to write to this address about.")


class Contacts(_Model):
    phones: list[Phone] = Field(default_factory=list, max_length=50)
    emails: list[EmailContact] = Field(default_factory=list, max_length=50)


class ResponseTargets(_Model):
    """First-response targets in business minutes of the topic's calendar, per importance."""

    low: int = Field(ge=1, le=60 * 24 * 60)
    normal: int = Field(ge=1, le=60 * 24 * 60)
    high: int = Field(ge=1, le=60 * 24 * 60)
    critical: int = Field(ge=1, le=60 * 24 * 60)


class SupportDirectory(_Model):
    topics: list[TopicSpec] = Field(min_length=1, max_length=100)
    calendars: list[CalendarSpec] = Field(min_length=1, max_length=50)
    contacts: Contacts
    response_targets: ResponseTargets


class DirectoryEventData(_Model):
    pass


class DirectoryChanged(DirectoryEventData):
    """The support directory after a change (the whole of it), at `version`."""

    version: int = Field(ge=1, description="The directory's version (its ETag in the API).")
    changed: list[str] = Field(description="What changed, e.g. `calendar:services`, `topic:billing`.")
    directory: SupportDirectory


EVENT_TYPES: dict[str, type[DirectoryEventData]] = {"directory.changed": DirectoryChanged}


def parse_directory_event(raw: bytes | str) -> EventEnvelope[DirectoryEventData]:
    return parse_event(raw, EVENT_TYPES)
