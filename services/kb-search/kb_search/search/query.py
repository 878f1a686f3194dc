"""Query text → weighted term alternatives per query word.

Each query word becomes one `QueryToken`: its own terms (weight 1), corrections of a typo, prefix
completions of the word being typed, and, as extra tokens, the glossary's other-language terms and
transliteration matches. A token scores a document by its best alternative, so one word never
counts twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from rapidfuzz import fuzz, process

from kb_search.search.analysis import Analyzer
from kb_search.search.crosslang import CrossLanguage, Glossary
from kb_search.search.normalise import (
    POLISH_LETTERS,
    RUSSIAN_LETTERS,
    STOPWORDS,
    UKRAINIAN_LETTERS,
    Script,
    normalise_text,
    script,
    transliterate,
    words,
)
from kb_search.search.vocabulary import Vocabulary

MAX_QUERY_CHARS = 2000
MAX_QUERY_WORDS = 32
MAX_SCORED_TOKENS = 12
CORRECTION_WEIGHTS = {1: 0.8, 2: 0.6}
PREFIX_WEIGHT = 0.6
PREFIX_COMPLETIONS = 6
MIN_PREFIX_LENGTH = 2
GLOSSARY_WEIGHT = 0.7
MAX_GLOSSARY_TOKENS = 8
TRANSLIT_WEIGHT = 0.6
TRANSLIT_MIN_RATIO = 75.0
MIN_TRANSLIT_LENGTH = 4


class IndexView(Protocol):
    @property
    def postings(self) -> Mapping[str, Sequence[int]]: ...

    @property
    def vocabulary(self) -> Vocabulary: ...

    def latin_words(self) -> list[str]: ...


@dataclass
class QueryToken:
    word: str
    alternatives: dict[str, float] = field(default_factory=dict)
    # A query word scores by its best alternative; a glossary concept by the sum of its terms (a
    # two-word phrase on the other side must count like the two words on this side).
    summed: bool = False

    def offer(self, term: str, weight: float) -> None:
        if weight > self.alternatives.get(term, 0.0):
            self.alternatives[term] = weight


@dataclass
class QueryPlan:
    tokens: list[QueryToken]
    corrections: dict[str, str]
    completions: tuple[str, ...]
    highlight_terms: frozenset[str]
    languages: frozenset[str] = frozenset()
    # The share of query words the index knows in their own right (not through the glossary or
    # transliteration), and the one language the query's letters point to ("" when they do not).
    coverage: float = 1.0
    script_language: str = ""


def query_language(letters: set[str], preferred: str) -> str:
    """The language the query is typed in, when its (normalised) letters tell; else the preferred one."""
    if letters & UKRAINIAN_LETTERS:
        return "uk"
    if letters & RUSSIAN_LETTERS:
        return "ru"
    if letters & POLISH_LETTERS:
        return "pl"
    return preferred


def script_language(letters: set[str], preferred: str) -> str:
    """The query's language by its script: a Latin query is English unless it has Polish letters
    (or Polish is asked for); a Cyrillic one is Ukrainian or Russian when its letters tell."""
    cyrillic = any("\u0400" <= ch <= "\u04ff" for ch in letters)
    latin = any("a" <= ch <= "z" for ch in letters) or bool(letters & POLISH_LETTERS)
    if cyrillic == latin:
        return preferred
    if latin:
        if letters & POLISH_LETTERS:
            return "pl"
        return preferred if preferred in ("en", "pl") else "en"
    if letters & UKRAINIAN_LETTERS:
        return "uk"
    if letters & RUSSIAN_LETTERS:
        return "ru"
    return preferred if preferred in ("uk", "ru") else ""


def query_languages(letters: set[str], preferred: str) -> frozenset[str]:
    """The languages the query may be typed in, judged by its scripts and (normalised) letters."""
    found: set[str] = set()
    if any("\u0400" <= ch <= "\u04ff" for ch in letters):
        if letters & UKRAINIAN_LETTERS:
            found.add("uk")
        elif letters & RUSSIAN_LETTERS:
            found.add("ru")
        else:
            found.update([preferred] if preferred in ("uk", "ru") else ["uk", "ru"])
    if any("a" <= ch <= "z" for ch in letters) or letters & POLISH_LETTERS:
        if letters & POLISH_LETTERS:
            found.add("pl")
        else:
            found.update([preferred] if preferred in ("en", "pl") else ["en", "pl"])
    return frozenset(found)


class QueryPlanner:
    def __init__(self, *, analyzer: Analyzer, glossary: Glossary, cross_language: CrossLanguage) -> None:
        self._analyzer = analyzer
        self._glossary = glossary
        self._cross = cross_language
        self._translit_cache: Callable[[str, int], tuple[tuple[str, float], ...]] | None = None
        self._translit_generation = -1

    def plan(self, text: str, *, lang: str, view: IndexView, prefix: bool, generation: int) -> QueryPlan:
        text = text[:MAX_QUERY_CHARS]
        letters = set(normalise_text(text))
        hint = query_language(letters, lang)
        query_words = list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS))[:MAX_QUERY_WORDS]
        postings = view.postings
        tokens: list[QueryToken] = []
        corrections: dict[str, str] = {}
        completions: tuple[str, ...] = ()
        query_terms: list[frozenset[str]] = []
        known = 0
        for position, word in enumerate(query_words):
            token = QueryToken(word)
            own_terms = self._analyzer.word_terms(word, hint)
            for term in own_terms:
                if term in postings:
                    token.offer(term, 1.0)
            if word not in view.vocabulary and not token.alternatives:
                for correction in view.vocabulary.corrections(word):
                    corrections.setdefault(word, correction.word)
                    for term in self._analyzer.word_terms(correction.word, hint):
                        token.offer(term, CORRECTION_WEIGHTS[correction.distance])
            # Glossary concepts fire on what was typed (or its correction), not on guessed completions.
            query_terms.append(frozenset(own_terms) | token.alternatives.keys())
            is_last = position == len(query_words) - 1
            if prefix and is_last and len(word) >= MIN_PREFIX_LENGTH:
                completions = tuple(view.vocabulary.completions(word, limit=PREFIX_COMPLETIONS))
                for completion in completions:
                    for term in self._analyzer.word_terms(completion, hint):
                        token.offer(term, PREFIX_WEIGHT)
            known += any(t in postings for t in token.alternatives)
            if self._cross.uses_translit:
                for term, weight in self._translit(word, view, generation):
                    token.offer(term, weight)
            token.alternatives = {t: w for t, w in token.alternatives.items() if t in postings}
            tokens.append(token)
        tokens = [t for t in tokens if t.alternatives]
        if len(tokens) > MAX_SCORED_TOKENS:
            tokens = _rarest(tokens, postings)[:MAX_SCORED_TOKENS]
        languages = query_languages(letters, lang)
        if self._cross.uses_glossary:
            tokens.extend(self._glossary_tokens(query_terms, postings, skip=languages))
        highlight = frozenset(term for t in tokens for term in t.alternatives)
        coverage = known / len(query_words) if query_words else 0.0
        return QueryPlan(
            tokens, corrections, completions, highlight, languages, coverage, script_language(letters, lang)
        )

    def _glossary_tokens(
        self,
        query_terms: list[frozenset[str]],
        postings: Mapping[str, Sequence[int]],
        *,
        skip: frozenset[str],
    ) -> list[QueryToken]:
        """One token per glossary concept and other language, scoring the sum of its terms.

        Same-language synonyms are left out: measured, they pulled general articles above the
        specific one (`как отменить бронь` → the article on creating bookings)."""
        tokens: dict[frozenset[str], QueryToken] = {}
        for expansion in self._glossary.expand(query_terms):
            for lang, terms in expansion.by_lang.items():
                if lang in skip:
                    continue
                known = frozenset(t for t in terms if t in postings)
                if known and known not in tokens:
                    alternatives = dict.fromkeys(sorted(known), GLOSSARY_WEIGHT)
                    tokens[known] = QueryToken(f"~{lang}", alternatives, summed=True)
        return _rarest(list(tokens.values()), postings)[:MAX_GLOSSARY_TOKENS]

    def _translit(self, word: str, view: IndexView, generation: int) -> tuple[tuple[str, float], ...]:
        if len(word) < MIN_TRANSLIT_LENGTH or script(word) is not Script.CYRILLIC:
            return ()
        if self._translit_cache is None or generation != self._translit_generation:
            self._translit_generation = generation
            self._translit_cache = lru_cache(maxsize=20_000)(
                lambda w, _gen: self._translit_uncached(w, view.latin_words())
            )
        return self._translit_cache(word, generation)

    def _translit_uncached(self, word: str, latin: list[str]) -> tuple[tuple[str, float], ...]:
        found = process.extract(
            transliterate(word), latin, scorer=fuzz.ratio, score_cutoff=TRANSLIT_MIN_RATIO, limit=2
        )
        out: dict[str, float] = {}
        for match, ratio, _ in found:
            for term in self._analyzer.word_terms(match, "en"):
                out[term] = max(out.get(term, 0.0), TRANSLIT_WEIGHT * ratio / 100.0)
        return tuple(out.items())


def _rarest(tokens: list[QueryToken], postings: Mapping[str, Sequence[int]]) -> list[QueryToken]:
    def rarity(token: QueryToken) -> float:
        return max(-math.log(1 + len(postings.get(t, ()))) for t in token.alternatives)

    return sorted(tokens, key=rarity, reverse=True)
