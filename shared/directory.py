"""The support directory read as rules: topic labels, each topic's calendar, open now, next opening,
first-response due times. Built from the public document (`shared.contracts.directory`); the tickets
service checks every change with it before recording it, chat evaluates its copy with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.calendar import WEEKDAYS, Calendar, CalendarInvalid, Closure, Interval, parse_hhmm
from shared.contracts.directory import SupportDirectory, TopicSpec


class DirectoryInvalid(ValueError):
    """Raised when a directory breaks a rule a schema cannot express; `field` names the part."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TopicStatus:
    topic: TopicSpec
    open_now: bool
    opens_at: datetime | None
    closes_at: datetime | None


class DirectoryView:
    """A checked directory: `DirectoryView(document)` raises `DirectoryInvalid` naming the field."""

    def __init__(self, document: SupportDirectory, *, version: int = 0) -> None:
        self.document = document
        self.version = version
        self.calendars: dict[str, Calendar] = {}
        for i, spec in enumerate(document.calendars):
            where = f"calendars[{i}]"
            if spec.id in self.calendars:
                raise DirectoryInvalid(f"calendar {spec.id!r} is listed twice", field=f"{where}.id")
            try:
                self.calendars[spec.id] = Calendar(
                    id=spec.id,
                    time_zone=spec.time_zone,
                    always_open=spec.always_open,
                    weekly=tuple(
                        Interval(
                            weekday=WEEKDAYS.index(w.day),
                            start=parse_hhmm(w.start, field=f"weekly[{j}].start"),
                            end=parse_hhmm(w.end, field=f"weekly[{j}].end"),
                        )
                        for j, w in enumerate(spec.weekly)
                    ),
                    holidays=tuple(spec.holidays),
                    closures=tuple(Closure(start=c.start, end=c.end, note=c.note) for c in spec.closures),
                )
            except CalendarInvalid as exc:
                raise DirectoryInvalid(str(exc), field=f"{where}.{exc.field}") from None
        self.topics: dict[str, TopicSpec] = {}
        for i, topic in enumerate(document.topics):
            if topic.id in self.topics:
                raise DirectoryInvalid(f"topic {topic.id!r} is listed twice", field=f"topics[{i}].id")
            if topic.calendar not in self.calendars:
                raise DirectoryInvalid(f"no calendar {topic.calendar!r}", field=f"topics[{i}].calendar")
            self.topics[topic.id] = topic

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, version: int = 0) -> DirectoryView:
        return cls(SupportDirectory.model_validate(data), version=version)

    def label(self, topic_id: str, language: str) -> str:
        """The topic's name in `language` (English for another language; the id for an unknown topic)."""
        topic = self.topics.get(topic_id)
        return topic.names.get(language) if topic is not None else topic_id

    def calendar_of(self, topic_id: str) -> Calendar | None:
        topic = self.topics.get(topic_id)
        return self.calendars[topic.calendar] if topic is not None else None

    def status(self, topic_id: str, now: datetime) -> TopicStatus | None:
        topic = self.topics.get(topic_id)
        if topic is None:
            return None
        status = self.calendars[topic.calendar].status(now)
        return TopicStatus(topic, status.open_now, status.opens_at, status.closes_at)

    def is_open(self, topic_id: str, now: datetime) -> bool:
        status = self.status(topic_id, now)
        return status is not None and status.open_now

    def target_minutes(self, importance: str) -> int:
        targets = self.document.response_targets
        return int(getattr(targets, importance, targets.normal))

    def first_response_due(self, topic_id: str, importance: str, filed_at: datetime) -> datetime | None:
        """When support promises a first answer: the importance's target in the topic's business time
        from `filed_at`; None for an unknown topic or a calendar that does not open in reach."""
        calendar = self.calendar_of(topic_id)
        if calendar is None:
            return None
        return calendar.add_business_time(filed_at, timedelta(minutes=self.target_minutes(importance)))
