"""Request and response bodies of the kb-search HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kb_search.search.results import Hit
from shared.contracts.kb import MAX_BODY_LENGTH, MAX_ID_LENGTH, MAX_TITLE_LENGTH, Language
from shared.contracts.kb_v2 import MAX_SECTION_NAME_LENGTH, MAX_SECTION_ORDER, SectionId
from shared.types import TextOnly

# What an editor or a user types; the event contracts keep their own (older) types.
SectionName = Annotated[str, Field(min_length=1, max_length=MAX_SECTION_NAME_LENGTH), TextOnly]
Tag = Annotated[str, TextOnly]


class VariantOut(BaseModel):
    id: str
    lang: str
    title: str
    slug: str
    url: str


class HitOut(BaseModel):
    id: str
    slug: str
    url: str
    lang: str
    section: str
    title: str
    title_highlighted: str = Field(description="The title, HTML-escaped, matched words in <mark>.")
    snippet: str = Field(description="HTML-escaped text around the matches, matched words in <mark>.")
    score: float
    variants: list[VariantOut] = Field(description="The same article in other languages.")

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(
            id=hit.id,
            slug=hit.slug,
            url=hit.url,
            lang=hit.lang,
            section=hit.section,
            title=hit.title,
            title_highlighted=hit.title_highlighted,
            snippet=hit.snippet,
            score=hit.score,
            variants=[VariantOut.model_validate(asdict(v)) for v in hit.variants],
        )


class SearchOut(BaseModel):
    query: str
    total: int = Field(description="Matching articles (language versions counted separately).")
    hits: list[HitOut]
    facets: dict[str, int] = Field(description="Matching articles per section, before the section filter.")
    corrections: dict[str, str] = Field(description="Query words read as a known word (typo → word).")


class SuggestOut(BaseModel):
    query: str
    suggestions: list[HitOut]
    completions: list[str] = Field(description="Known words completing the last word typed.")


class DeflectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Annotated[str, Field(max_length=200), TextOnly] = ""
    text: Annotated[str, Field(max_length=10_000, description="What the user typed so far."), TextOnly] = ""
    lang: Language | None = None


class DeflectOut(BaseModel):
    articles: list[HitOut]


class ArticleUpdateIn(BaseModel):
    """An article's content; its id is in the path."""

    model_config = ConfigDict(extra="forbid")

    lang: Language
    section: SectionId = Field(description="The id of a live section (`GET /api/v1/kb/sections`).")
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_LENGTH), TextOnly]
    body: Annotated[str, Field(max_length=MAX_BODY_LENGTH), TextOnly] = ""
    slug: Annotated[str, Field(max_length=MAX_ID_LENGTH), TextOnly] = ""
    url: Annotated[
        str, Field(max_length=2000, description="An http or https link (e.g. the wiki page)."), TextOnly
    ] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    translations: list[Tag] = Field(default_factory=list, max_length=20)


class ArticleIn(ArticleUpdateIn):
    id: Annotated[
        str,
        Field(min_length=1, max_length=MAX_ID_LENGTH, description="Stable external id, e.g. a wiki URL."),
        TextOnly,
    ]


class WriteOut(BaseModel):
    id: str
    version: int
    changed: bool = Field(description="False when the same content was already the current version.")
    indexed: bool = Field(description="True once this replica's index shows the change.")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    comment: Annotated[str, Field(max_length=2000), TextOnly] = ""


class FeedbackCountsOut(BaseModel):
    helpful: int
    not_helpful: int


class ArticleOut(BaseModel):
    id: str
    key: str = Field(description="Stable short key (also accepted in place of the id).")
    lang: str
    section: str
    title: str
    body: str = Field(description="Markdown, as the editor wrote it.")
    body_html: str = Field(
        description="The body rendered as sanitised HTML: no raw HTML, links only http, https and mailto."
    )
    slug: str
    url: str
    tags: list[str]
    translations: list[str]
    version: int
    variants: list[VariantOut]
    feedback: FeedbackCountsOut


class ArticleSummaryOut(BaseModel):
    id: str
    key: str
    lang: str
    section: str
    title: str
    url: str
    variants: list[VariantOut]


class ArticleListOut(BaseModel):
    section: str
    total: int = Field(description="Articles in the section (one language version each).")
    items: list[ArticleSummaryOut]


class SectionNamesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uk: SectionName
    ru: SectionName
    en: SectionName
    pl: SectionName


class SectionOut(BaseModel):
    id: str
    section: str = Field(description="The same as `id` (kept for clients of the first version).")
    names: dict[str, str] = Field(description="The section's name in uk, ru, en and pl.")
    order: int
    version: int = Field(description="Send it back in `If-Match` to change or retire the section.")
    retired: bool
    total: int = Field(description="Live articles in the section (language versions counted separately).")
    by_language: dict[str, int]


class SectionsOut(BaseModel):
    sections: list[SectionOut] = Field(description="By order, then id.")


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: SectionId
    names: SectionNamesIn
    order: int | None = Field(
        default=None, ge=0, le=MAX_SECTION_ORDER, description="Default: after every other section."
    )


class SectionUpdateIn(BaseModel):
    """Rename, move, or both; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    names: SectionNamesIn | None = None
    order: int | None = Field(default=None, ge=0, le=MAX_SECTION_ORDER)


class SectionWriteOut(BaseModel):
    id: str
    version: int
    changed: bool = Field(description="False when the section already was exactly this.")
