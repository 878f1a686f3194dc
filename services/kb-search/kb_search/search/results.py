"""What a search returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Variant:
    """Another language version of the same article."""

    id: str
    lang: str
    title: str
    slug: str
    url: str


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    slug: str
    url: str
    lang: str
    section: str
    title: str
    title_highlighted: str
    snippet: str
    score: float
    variants: tuple[Variant, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        """This article's id and the ids of its language versions."""
        return frozenset({self.id, *(v.id for v in self.variants)})


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    total: int
    facets: dict[str, int] = field(default_factory=dict)
    corrections: dict[str, str] = field(default_factory=dict)
    completions: tuple[str, ...] = ()


EMPTY_RESULT = SearchResult(query="", hits=(), total=0)
