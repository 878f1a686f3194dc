"""Cross-language retrieval: a Ukrainian or Russian query finding an English-only article.

Two methods, switchable so the relevance benchmark can compare them (`CrossLanguage`):

- glossary: hotel-system terms in en/uk/ru/pl (`{"terms": [{"en": "...", "uk": [...], ...}]}`).
  Each phrase is analysed into terms; a concept fires when all terms of one of its phrases are in
  the query, and adds the terms of its phrases in the other languages.
- transliteration: a Cyrillic query word is transliterated (інвойс → invois) and matched against
  the Latin words of the index (rapidfuzz ratio ≥ `TRANSLIT_MIN_RATIO`); works for loanwords only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kb_search.search.analysis import Analyzer

LANGUAGES = ("en", "uk", "ru", "pl")


class CrossLanguage(StrEnum):
    NONE = "none"
    GLOSSARY = "glossary"
    TRANSLIT = "translit"
    BOTH = "both"

    @property
    def uses_glossary(self) -> bool:
        return self in (CrossLanguage.GLOSSARY, CrossLanguage.BOTH)

    @property
    def uses_translit(self) -> bool:
        return self in (CrossLanguage.TRANSLIT, CrossLanguage.BOTH)


class InvalidGlossary(ValueError):
    """Raised when a glossary file is not `{"terms": [{"en": ..., "uk": [...], ...}]}`."""


@dataclass(frozen=True, slots=True)
class Concept:
    """One glossary entry: its phrases, each as (language, analysed terms)."""

    phrases: tuple[tuple[str, frozenset[str]], ...]


@dataclass
class Glossary:
    concepts: list[Concept] = field(default_factory=list)
    _by_term: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]], analyzer: Analyzer) -> Glossary:
        glossary = cls()
        for entry in entries:
            phrases: list[tuple[str, frozenset[str]]] = []
            for lang in LANGUAGES:
                value = entry.get(lang) or []
                for phrase in [value] if isinstance(value, str) else value:
                    terms = frozenset(t for _, found in analyzer.terms(str(phrase), lang) for t in found)
                    if terms:
                        phrases.append((lang, terms))
            if len({lang for lang, _ in phrases}) < 2:
                continue
            index = len(glossary.concepts)
            glossary.concepts.append(Concept(tuple(phrases)))
            for _, terms in phrases:
                for term in terms:
                    glossary._by_term.setdefault(term, []).append(index)
        return glossary

    @classmethod
    def load(cls, path: Path, analyzer: Analyzer) -> Glossary:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = raw["terms"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidGlossary(f"{path}: {exc}") from None
        if not isinstance(entries, list):
            raise InvalidGlossary(f"{path}: 'terms' must be a list")
        return cls.from_entries([e for e in entries if isinstance(e, dict)], analyzer)

    def expand(self, query_terms: Sequence[frozenset[str]]) -> list[Expansion]:
        """For every concept one of whose phrases the query contains (its terms may come from any
        of the query's words): the terms of its other phrases, per language."""
        present = frozenset().union(*query_terms) if query_terms else frozenset()
        out: list[Expansion] = []
        seen: set[int] = set()
        for term in sorted(present):
            for index in self._by_term.get(term, ()):
                if index in seen:
                    continue
                seen.add(index)
                concept = self.concepts[index]
                matched = [terms for _, terms in concept.phrases if terms <= present]
                if not matched:
                    continue
                by_lang: dict[str, set[str]] = {}
                for lang, terms in concept.phrases:
                    if not terms <= present:
                        by_lang.setdefault(lang, set()).update(terms - present)
                if by_lang:
                    coverage = max(len(terms) for terms in matched)
                    out.append(Expansion(coverage, {k: frozenset(v) for k, v in sorted(by_lang.items())}))
        return out


@dataclass(frozen=True, slots=True)
class Expansion:
    """What one glossary concept adds to a query: `coverage` query terms it stands for, and its
    terms in each language."""

    coverage: int
    by_lang: dict[str, frozenset[str]]
