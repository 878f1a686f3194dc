"""Public events of the knowledge base, version 1 (`helpdesk.kb.v1.*`): FAQ articles and feedback.

Version 1 names an article's section with a closed enum of ten sections; sections are data now
(`shared.contracts.kb_v2`: editors create, rename, order and retire them), so article lifecycle
events are written as version 2 from now on, on `helpdesk.kb.v2.article.<article key>`, side by side
with this version's history on the same stream. Version 2 content is a superset: a v1 event reads as
a v2 one with the same section id. Feedback stays version 1. Read both with
`shared.contracts.kb_v2.parse_kb_event`.

The `KB_ARTICLES` stream is the system of record: every kb-search replica rebuilds its search index
by replaying it from the start, and any other OtelMS service may do the same.

Subjects carry one token per article so that JetStream can check, per article, the last sequence a
writer saw (`Nats-Expected-Last-Subject-Sequence`):

    helpdesk.kb.v1.article.<article key>    published, updated, retired (type in the envelope)
    helpdesk.kb.v1.feedback.<article key>   "was this helpful?" answers

`<article key>` is `article_key(article id)`: the hex of a uuid5 of the external id (ids are URLs,
which are not valid subject tokens). The same uuid is the envelope's `aggregate_id`, and
`aggregate_version` counts the article's lifecycle events (published = 1, each update or retirement
+1). Articles are not owned by a hotel account: their envelopes carry `account_id="otelms"`;
feedback carries the account of the user who answered.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.subjects import Channel

DOMAIN = "kb"
SCHEMA_VERSION = 1
KB_ACCOUNT_ID = "otelms"
# Fixed namespace of article keys: changing it would re-key every article on the stream.
ARTICLE_NAMESPACE = uuid.UUID("6f1d2f0e-8a43-5b7e-9c55-0b6f4a1d3e21")

MAX_ID_LENGTH = 500
MAX_TITLE_LENGTH = 300
MAX_BODY_LENGTH = 200_000


class Language(StrEnum):
    UK = "uk"
    RU = "ru"
    EN = "en"
    PL = "pl"


# The ten sections version 1 can name (and the ones `helpdesk migrate` creates as data). No docstring:
# it would change the published version 1 schemas.
class Section(StrEnum):
    BOOKINGS = "bookings"
    ROOMS_AND_RATES = "rooms-and-rates"
    GUESTS = "guests"
    PAYMENTS_AND_FISCAL = "payments-and-fiscal"
    REPORTS = "reports"
    USERS_AND_RIGHTS = "users-and-rights"
    SETTINGS = "settings"
    INTEGRATIONS = "integrations"
    CHANNEL_MANAGER = "channel-manager"
    HOUSEKEEPING = "housekeeping"


class KbEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArticleContent(KbEventData):
    """The full content of one language version of an article (published and updated carry it all)."""

    article_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="Stable external id.")
    lang: Language
    section: Section
    title: str = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    body: str = Field(max_length=MAX_BODY_LENGTH, description="Markdown.")
    slug: str = Field(default="", max_length=MAX_ID_LENGTH)
    url: str = Field(default="", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    translations: list[str] = Field(
        default_factory=list, max_length=20, description="Ids of the same article in other languages."
    )
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the content fields.")


class ArticlePublished(ArticleContent):
    """A new article, or a retired one published again."""


class ArticleUpdated(ArticleContent):
    """A new revision of a live article."""


class ArticleRetired(KbEventData):
    """The article is withdrawn: it disappears from every replica's results."""

    article_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    reason: str = Field(default="", max_length=500)


class ArticleFeedbackGiven(KbEventData):
    """A reader answered "was this helpful?"."""

    article_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    helpful: bool
    comment: str = Field(default="", max_length=2000)


# Event type → data model.
EVENT_TYPES: dict[str, type[KbEventData]] = {
    "article.published": ArticlePublished,
    "article.updated": ArticleUpdated,
    "article.retired": ArticleRetired,
    "article.feedback_given": ArticleFeedbackGiven,
}
LIFECYCLE_TYPES = frozenset({"article.published", "article.updated", "article.retired"})

ARTICLE_KEY_DOC = "`article_key(article id)`: the hex of the article's uuid5 (its `aggregate_id`)."
ARTICLE_CHANNEL = Channel(DOMAIN, SCHEMA_VERSION, "article", "article_key", ARTICLE_KEY_DOC)
FEEDBACK_CHANNEL = Channel(DOMAIN, SCHEMA_VERSION, "feedback", "article_key", ARTICLE_KEY_DOC)
# Event type → channel (the subjects the publisher uses and the AsyncAPI document describes).
CHANNELS: dict[str, Channel] = {
    **dict.fromkeys(sorted(LIFECYCLE_TYPES), ARTICLE_CHANNEL),
    "article.feedback_given": FEEDBACK_CHANNEL,
}
# Kept on the stream and read on replay, but no longer published (articles are written as version 2).
HISTORY_ONLY = LIFECYCLE_TYPES


def article_key(article_id: str) -> str:
    """The subject token (and aggregate id hex) of an article."""
    return article_uuid(article_id).hex


def article_uuid(article_id: str) -> uuid.UUID:
    return uuid.uuid5(ARTICLE_NAMESPACE, article_id)


def article_subject(article_id: str) -> str:
    """Lifecycle events of one article (published, updated, retired)."""
    return ARTICLE_CHANNEL.subject(article_key(article_id))


def feedback_subject(article_id: str) -> str:
    return FEEDBACK_CHANNEL.subject(article_key(article_id))
