"""An FAQ article (one language version) and the rules of its lifecycle.

Lifecycle: published → updated* → retired → (published again). Each change is one event on the
article's own subject; `version` counts them. Writing the same content again is not a change, which
is what makes a second import of the same file a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from kb_search.domain.errors import ArticleAlreadyPublished, ArticleNotFound, InvalidArticle, VersionConflict
from kb_search.domain.section import section_id_problem
from shared.contracts.kb import MAX_BODY_LENGTH, MAX_ID_LENGTH, MAX_TITLE_LENGTH, Language

E = TypeVar("E", bound=StrEnum)
_SLUG_CHARS = re.compile(r"[^\w]+", re.UNICODE)
MAX_TAGS = 50
MAX_TRANSLATIONS = 20
MAX_URL_LENGTH = 2000
# A link the widget opens: anything else (javascript:, data:, file:, ftp:, …) is refused.
URL_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    lang: Language
    section: str  # a section id; whether that section is live is the application's check
    title: str
    body: str
    slug: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    translations: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """sha256 of every content field: the same article imported twice hashes the same."""
        canonical = json.dumps(
            [self.id, self.lang, self.section, self.title, self.body, self.slug, self.url,
             sorted(self.tags), sorted(self.translations)],
            ensure_ascii=False,
            separators=(",", ":"),
        )  # fmt: skip
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def in_section(self, section: str) -> Article:
        return replace(self, section=section)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> Article:
        """Validate an article given as a mapping (a JSON line, front matter, an API body)."""
        problems: list[str] = []
        article_id = _text(raw, "id", problems, required=True, max_length=MAX_ID_LENGTH)
        if any(unicodedata.category(char) == "Cc" for char in article_id):
            # An id travels in URL paths: one with a line break could be published but never read,
            # updated or retired again through the API.
            problems.append("id: must not contain control characters")
        title = _text(raw, "title", problems, required=True, max_length=MAX_TITLE_LENGTH)
        body = _text(raw, "body", problems, required=False, max_length=MAX_BODY_LENGTH)
        lang = _choice(raw, "lang", Language, problems)
        section = _text(raw, "section", problems, required=True, max_length=MAX_ID_LENGTH).lower()
        if section and (problem := section_id_problem(section)):
            problems.append(f"section: {problem}")
        slug = _text(raw, "slug", problems, required=False, max_length=MAX_ID_LENGTH)
        url = _text(raw, "url", problems, required=False, max_length=MAX_URL_LENGTH)
        if url and (problem := url_problem(url)):
            problems.append(f"url: {problem}")
        tags = _strings(raw, "tags", problems, max_items=MAX_TAGS)
        translations = _strings(raw, "translations", problems, max_items=MAX_TRANSLATIONS)
        if problems or lang is None:
            raise InvalidArticle(problems)
        return cls(
            id=article_id,
            lang=lang,
            section=section,
            title=title,
            body=body,
            slug=slug or slugify(title),
            url=url,
            tags=tuple(dict.fromkeys(tags)),
            translations=tuple(t for t in dict.fromkeys(translations) if t != article_id),
        )


def url_problem(url: str) -> str:
    """Why `url` cannot be an article's link, or "" when it can: an absolute http(s) URL with a host."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() not in URL_SCHEMES:
        return f"must be an http or https URL, not {scheme.lower() + ':' if sep else 'a relative one'}"
    if not rest.startswith("//") or not rest[2:].split("/", 1)[0].strip():
        return "must be an absolute http or https URL with a host"
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        return "must not contain spaces or control characters"
    return ""


def slugify(title: str) -> str:
    return _SLUG_CHARS.sub("-", title.lower()).strip("-_")[:120]


def _text(
    raw: Mapping[str, object], name: str, problems: list[str], *, required: bool, max_length: int
) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            problems.append(f"{name}: required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{name}: must be a string")
        return ""
    value = value.strip()
    if required and not value:
        problems.append(f"{name}: must not be empty")
    if len(value) > max_length:
        problems.append(f"{name}: longer than {max_length} characters")
    return value


def _choice(raw: Mapping[str, object], name: str, enum: type[E], problems: list[str]) -> E | None:
    value = raw.get(name)
    if value is None:
        problems.append(f"{name}: required")
        return None
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        problems.append(f"{name}: {value!r} is not one of {allowed}")
        return None


def _strings(raw: Mapping[str, object], name: str, problems: list[str], *, max_items: int) -> list[str]:
    value = raw.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{name}: must be a list of strings")
        return []
    items = [v.strip() for v in value if v.strip()]
    if len(items) > max_items:
        problems.append(f"{name}: more than {max_items} items")
    return items[:max_items]


class Change(StrEnum):
    PUBLISHED = "article.published"
    UPDATED = "article.updated"
    RETIRED = "article.retired"


@dataclass(frozen=True, slots=True)
class ArticleState:
    """What a writer knows of an article before changing it: its last lifecycle event."""

    version: int
    retired: bool
    content_hash: str = ""
    sequence: int = field(default=0, compare=False)  # the stream sequence of that event
    # The sequence of the article's last event on the subject writes go to (version 2): 0 while the
    # article has only version 1 history, so the first version 2 write still cannot race another.
    write_sequence: int = field(default=0, compare=False)


def decide_publish(article: Article, state: ArticleState | None) -> Change | None:
    """A new article (or a retired one again). Same content again: nothing to do."""
    if state is None or state.retired:
        return Change.PUBLISHED
    if state.content_hash == article.content_hash:
        return None
    raise ArticleAlreadyPublished(article.id)


def decide_update(
    article: Article, state: ArticleState | None, *, expected_version: int | None
) -> Change | None:
    if state is None or state.retired:
        raise ArticleNotFound(article.id)
    if expected_version is not None and expected_version != state.version:
        raise VersionConflict(article.id, expected=expected_version, actual=state.version)
    if state.content_hash == article.content_hash:
        return None
    return Change.UPDATED


def decide_upsert(article: Article, state: ArticleState | None) -> Change | None:
    """What an import does: publish, update, or nothing when the content is unchanged."""
    if state is None or state.retired:
        return Change.PUBLISHED
    return None if state.content_hash == article.content_hash else Change.UPDATED


def decide_retire(article_id: str, state: ArticleState | None, *, expected_version: int | None) -> Change:
    if state is None or state.retired:
        raise ArticleNotFound(article_id)
    if expected_version is not None and expected_version != state.version:
        raise VersionConflict(article_id, expected=expected_version, actual=state.version)
    return Change.RETIRED
