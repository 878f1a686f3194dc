"""What the application needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kb_search.domain.article import ArticleState
from kb_search.domain.section import Section, SectionState
from shared.contracts.envelope import Actor
from shared.contracts.kb import KbEventData


@dataclass(frozen=True, slots=True)
class Appended:
    sequence: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Origin:
    """Who writes (the actor) and for which request (its correlation id)."""

    actor: Actor
    correlation_id: str | None


@dataclass(frozen=True, slots=True)
class ArticleEvent:
    """A lifecycle event for `article_id`; `version` follows `expected`, the state the writer read
    (None: a new article). `event_key` names the write: the same write retried is a duplicate."""

    article_id: str
    event_type: str
    data: KbEventData
    version: int
    expected: ArticleState | None
    event_key: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """A "was this helpful?" answer about `article_id` from a user of `account_id`."""

    article_id: str
    data: KbEventData
    account_id: str
    event_key: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class SectionEvent:
    """An event for `section`; `version` follows `expected`, the state the writer read (None: new)."""

    event_type: str
    section: Section
    version: int
    expected: SectionState | None
    origin: Origin


class ArticleLog(Protocol):
    """The article stream: the store of record."""

    async def state(self, article_id: str) -> ArticleState | None:
        """The article's last lifecycle event as the stream's leader sees it now."""
        ...

    async def append(self, event: ArticleEvent) -> Appended:
        """Append one lifecycle event; `VersionConflict` when another write came first."""
        ...

    async def append_feedback(self, feedback: FeedbackEvent) -> Appended: ...


class SectionLog(Protocol):
    """The sections' events on the article stream."""

    async def state(self, section_id: str) -> SectionState | None:
        """The section's last event as the stream's leader sees it now."""
        ...

    async def all(self) -> list[SectionState]:
        """Every section ever created, live or retired, as its last event left it."""
        ...

    async def append(self, event: SectionEvent) -> Appended:
        """Append one section event; `SectionVersionConflict` when another write came first."""
        ...
