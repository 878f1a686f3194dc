"""Words → index terms: Ukrainian and Russian lemmatised (pymorphy3), English and Polish stemmed
(Snowball), Polish diacritics folded after stemming so `platnosci` meets `płatności`.

A Cyrillic word is routed by its letters (і ї є ґ → Ukrainian; ы э ъ ё → Russian); a word with
neither goes to the analyser of the document's (or query's) language when that dictionary knows it,
else to whichever dictionary knows it, else both lemmas are kept. Analyses are cached per
(word, language hint): the same few thousand words recur in every article and every query.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pymorphy3

from kb_search.search import stemmers
from kb_search.search.normalise import (
    POLISH_LETTERS,
    RUSSIAN_LETTERS,
    STOPWORDS,
    UKRAINIAN_LETTERS,
    Script,
    fix_mixed_script,
    fold_polish,
    script,
    words,
)

CACHE_SIZE = 200_000
MAX_WORD_LENGTH = 40


class Analyzer:
    """Turns text into terms. One per process: the pymorphy dictionaries take ~0.1 s and ~20 MB."""

    def __init__(self) -> None:
        self._uk: Any = pymorphy3.MorphAnalyzer(lang="uk")
        self._ru: Any = pymorphy3.MorphAnalyzer(lang="ru")
        self._stem_en = stemmers.stemmer("english")
        self._stem_pl = stemmers.stemmer("polish")
        self.word_terms: Callable[[str, str], tuple[str, ...]] = lru_cache(maxsize=CACHE_SIZE)(
            self._word_terms
        )
        self.raw_word_terms: Callable[[str, str], tuple[str, ...]] = lru_cache(maxsize=CACHE_SIZE)(
            self._raw_word_terms
        )
        # One word as found in a text already through `normalise_text` (`raw_word_counts`): the
        # word (`fix_mixed_script` applied) and its terms, None for a stop word or a word without
        # terms. Indexing looks up every distinct word of every article here, and only here: its
        # terms are analysed without `word_terms`' cache, which would hold each of them a second
        # time (on a realistic vocabulary ~145,000 words: ~30 MiB twice).
        self.analysed: Callable[[str, str], tuple[str, tuple[str, ...]] | None] = lru_cache(
            maxsize=CACHE_SIZE
        )(self._analyse)

    def terms(self, text: str, lang: str = "") -> list[tuple[str, tuple[str, ...]]]:
        """(word, its terms) for every word of `text` that is not a stop word."""
        out = []
        for word in words(text):
            if word in STOPWORDS:
                continue
            found = self.word_terms(word, lang)
            if found:
                out.append((word, found))
        return out

    def _analyse(self, raw: str, lang: str) -> tuple[str, tuple[str, ...]] | None:
        word = fix_mixed_script(raw)
        found = () if word in STOPWORDS else self._word_terms(word, lang)
        return (word, found) if found else None

    def _raw_word_terms(self, raw: str, lang: str) -> tuple[str, ...]:
        """Terms of one word exactly as it appears in a text (for highlighting)."""
        found = words(raw)
        return self.word_terms(found[0], lang) if len(found) == 1 else ()

    def _word_terms(self, word: str, lang: str) -> tuple[str, ...]:
        if len(word) > MAX_WORD_LENGTH or word in STOPWORDS:
            return ()
        if word.isdigit():
            return (word,)
        kind = script(word)
        if kind is Script.CYRILLIC:
            return self._cyrillic(word, lang)
        if kind is Script.LATIN:
            return self._latin(word, lang)
        return (word,)

    def _cyrillic(self, word: str, lang: str) -> tuple[str, ...]:
        letters = set(word)
        if letters & UKRAINIAN_LETTERS:
            return (self._lemma(self._uk, word),)
        if letters & RUSSIAN_LETTERS:
            return (self._lemma(self._ru, word),)
        first, second = (self._ru, self._uk) if lang == "ru" else (self._uk, self._ru)
        first_knows, second_knows = first.word_is_known(word), second.word_is_known(word)
        if first_knows and (lang in ("uk", "ru") or not second_knows):
            return (self._lemma(first, word),)
        if second_knows and not first_knows:
            return (self._lemma(second, word),)
        if not first_knows and lang in ("uk", "ru"):
            return (self._lemma(first, word),)
        return tuple(dict.fromkeys((self._lemma(first, word), self._lemma(second, word))))

    @staticmethod
    def _lemma(morph: Any, word: str) -> str:
        return str(morph.parse(word)[0].normal_form).replace("ё", "е")

    def _latin(self, word: str, lang: str) -> tuple[str, ...]:
        if set(word) & POLISH_LETTERS or lang == "pl":
            return (fold_polish(self._stem_pl(word)),)
        if lang == "en":
            return (self._stem_en(word),)
        return tuple(dict.fromkeys((self._stem_en(word), fold_polish(self._stem_pl(word)))))
