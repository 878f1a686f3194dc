"""Public events of the knowledge base, version 2 (`helpdesk.kb.v2.*`): sections as data, and
articles that name any live section.

Version 1 (`shared.contracts.kb`) cannot carry a section that is not one of its ten enum values, so
article lifecycle events are written as version 2, side by side on the same `KB_ARTICLES` stream:

    helpdesk.kb.v2.article.<article key>   article published, updated, retired (type in the envelope)
    helpdesk.kb.v2.section.<section id>    section created, updated (renamed, reordered), retired
    helpdesk.kb.v1.article.<article key>   the articles' version 1 history (read, no longer written)
    helpdesk.kb.v1.feedback.<article key>  "was this helpful?" answers (unchanged, version 1)

A version 2 article event is a version 1 one whose `section` is any section id (a slug) instead of
the enum; its `aggregate_version` continues the article's version 1 history. A consumer reads an
article's current state from the last event of either subject. Section ids are slugs, so they are
their own subject token; a section's `aggregate_id` is `section_uuid(section id)` and its
`aggregate_version` counts its events. Sections carry `account_id="otelms"`, like articles.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from shared.contracts import kb
from shared.contracts.envelope import EventEnvelope, parse_event
from shared.contracts.kb import (
    ArticlePublished,
    ArticleRetired,
    ArticleUpdated,
    KbEventData,
    article_key,
)
from shared.contracts.subjects import Channel

DOMAIN = "kb"
SCHEMA_VERSION = 2
# Fixed namespace of section aggregate ids: changing it would re-key every section.
SECTION_NAMESPACE = uuid.UUID("2b0f6a53-3c7e-5d42-8f0e-6a1c9d4b7e10")
SECTION_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_SECTION_ID_LENGTH = 64
MAX_SECTION_NAME_LENGTH = 100
MAX_SECTION_ORDER = 1_000_000

SectionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SECTION_ID_LENGTH,
        pattern=SECTION_ID_PATTERN,
        description="A section's id: lower-case letters and digits, words joined by '-'.",
    ),
]
SectionName = Annotated[str, Field(min_length=1, max_length=MAX_SECTION_NAME_LENGTH)]


class ArticlePublishedV2(ArticlePublished):
    """A new article, or a retired one published again, in any live section."""

    section: SectionId  # type: ignore[assignment]


class ArticleUpdatedV2(ArticleUpdated):
    """A new revision of a live article (its section may have changed)."""

    section: SectionId  # type: ignore[assignment]


class ArticleRetiredV2(ArticleRetired):
    """The article is withdrawn: it disappears from every replica's results."""


class SectionNames(KbEventData):
    """A section's name in each language of the Help menu."""

    uk: SectionName
    ru: SectionName
    en: SectionName
    pl: SectionName


class SectionCreated(KbEventData):
    """A new section, or a retired one created again."""

    section_id: SectionId
    names: SectionNames
    order: int = Field(ge=0, le=MAX_SECTION_ORDER, description="Sections are listed by order, then id.")


class SectionUpdated(KbEventData):
    """A live section renamed or moved: its names and order as they are now."""

    section_id: SectionId
    names: SectionNames
    order: int = Field(ge=0, le=MAX_SECTION_ORDER)


class SectionRetired(KbEventData):
    """The section is no longer offered; its articles keep its id until they are moved. Carries
    the names and order it had."""

    section_id: SectionId
    names: SectionNames
    order: int = Field(ge=0, le=MAX_SECTION_ORDER)


# Event type → data model.
EVENT_TYPES: dict[str, type[KbEventData]] = {
    "article.published": ArticlePublishedV2,
    "article.updated": ArticleUpdatedV2,
    "article.retired": ArticleRetiredV2,
    "section.created": SectionCreated,
    "section.updated": SectionUpdated,
    "section.retired": SectionRetired,
}
SECTION_TYPES = frozenset({"section.created", "section.updated", "section.retired"})

ARTICLE_CHANNEL = Channel(DOMAIN, SCHEMA_VERSION, "article", "article_key", kb.ARTICLE_KEY_DOC)
SECTION_CHANNEL = Channel(DOMAIN, SCHEMA_VERSION, "section", "section_id", "The section's id (a slug).")
# Event type → channel (the subjects the publisher uses and the AsyncAPI document describes).
CHANNELS: dict[str, Channel] = {
    **dict.fromkeys(sorted(kb.LIFECYCLE_TYPES), ARTICLE_CHANNEL),
    **dict.fromkeys(sorted(SECTION_TYPES), SECTION_CHANNEL),
}


def article_subject(article_id: str) -> str:
    """Version 2 lifecycle events of one article."""
    return ARTICLE_CHANNEL.subject(article_key(article_id))


def section_uuid(section_id: str) -> uuid.UUID:
    return uuid.uuid5(SECTION_NAMESPACE, section_id)


def section_subject(section_id: str) -> str:
    return SECTION_CHANNEL.subject(section_id)


def sections_filter() -> str:
    """Every section's subject."""
    return SECTION_CHANNEL.filter


def parse_kb_event(raw: bytes | str) -> EventEnvelope[KbEventData]:
    """Validate a published kb event of either version (the envelope's `schema_version` picks the
    models); see `shared.contracts.envelope.parse_event`."""
    version = RawVersion.model_validate_json(raw).schema_version
    return parse_event(raw, EVENT_TYPES if version == SCHEMA_VERSION else kb.EVENT_TYPES)


class RawVersion(BaseModel):
    """Only the envelope's version, read before the whole envelope is validated."""

    schema_version: int = 1
