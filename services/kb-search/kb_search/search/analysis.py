"""Words → index terms: Ukrainian and Russian lemmatised (pymorphy3), English and Polish stemmed
(Snowball), Polish diacritics folded after stemming so `platnosci` meets `płatności`.

A Cyrillic word is routed by its letters (і ї є ґ → Ukrainian; ы э ъ ё → Russian); a word with
neither goes to the analyser of the document's (or query's) language when that dictionary knows it,
else to whichever dictionary knows it, else both lemmas are kept. Analyses are cached per
(word, language hint): the same few thousand words recur in every article and every query.

A word the dictionary knows is lemmatised from one dictionary lookup (`_Dictionary`), which also
tells whether it is known, instead of `word_is_known` and then `parse` (two or three walks of
pymorphy3's pure-Python DAWG, the most of a new word's CPU): the same first parse's normal form,
the parses' probabilities read only when their normal forms differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import pymorphy3
from pymorphy3.units import (
    AbbreviatedFirstNameAnalyzer,
    AbbreviatedPatronymicAnalyzer,
    DictionaryAnalyzer,
    LatinAnalyzer,
    RomanNumberAnalyzer,
)

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

# Units pymorphy3 runs beside its dictionary, in the same group, that find nothing in a word of two
# or more letters with a Cyrillic one (initials are one capital letter; Roman numbers and Latin
# words have no Cyrillic letter): for such a word a known one's parses are the dictionary's alone.
_SILENT_BESIDE_THE_DICTIONARY = (
    AbbreviatedFirstNameAnalyzer,
    AbbreviatedPatronymicAnalyzer,
    RomanNumberAnalyzer,
    LatinAnalyzer,
)

Analysis = tuple[str, tuple[str, ...]]
Found = list[tuple[str, Sequence[tuple[int, int]]]]  # a dictionary's (spelling, [(paradigm, form)])


class CacheInfo(NamedTuple):
    misses: int
    maxsize: int
    currsize: int


class Analysed:
    """`Analyzer.analysed`: one word as found in a text → (the word, its terms), or None, cached lean
    for the ~145,000 words of a realistic knowledge base: a dict per language hint from the word as
    found to its terms alone (no (word, language) key, no LRU links, no (word, terms) pair but for a
    word `fix_mixed_script` changed), each term one string and each one-term tuple one tuple however
    many words share it; emptied when it holds `maxsize` words, the rest of the time no bookkeeping.
    `cache_info` and `cache_clear` as `functools.lru_cache` gives them."""

    __slots__ = ("_analyse", "_by_lang", "_maxsize", "_misses", "_shared", "_size")

    def __init__(self, analyse: Callable[[str, str], Analysis | None], *, maxsize: int) -> None:
        self._analyse = analyse
        self._maxsize = maxsize
        self._by_lang: dict[str, dict[str, tuple[str, ...] | Analysis | None]] = {}
        self._shared: dict[str, tuple[str, ...]] = {}  # term -> the one (term,) every word shares
        self._misses = 0
        self._size = 0

    def __call__(self, raw: str, lang: str, /) -> Analysis | None:
        try:
            found = self._by_lang[lang][raw]
        except KeyError:
            return self._first_time(raw, lang)
        if found is None or found[-1].__class__ is tuple:
            return found  # None, or (word, terms) when word is not raw
        return raw, found  # type: ignore[return-value]  # terms alone: the word is raw

    def _first_time(self, raw: str, lang: str) -> Analysis | None:
        self._misses += 1
        if self._size >= self._maxsize:
            self.cache_clear()
        cache = self._by_lang.get(lang)
        if cache is None:
            cache = self._by_lang[lang] = {}
        found = self._analyse(raw, lang)
        if found is None:
            cache[raw] = None
        else:
            word, terms = found
            shared = self._shared
            if len(terms) == 1:
                terms = shared.setdefault(terms[0], terms)
            else:
                terms = tuple(shared.setdefault(term, (term,))[0] for term in terms)
            found = (word, terms)
            cache[raw] = terms if word == raw else found
        self._size += 1
        return found

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._misses, self._maxsize, self._size)

    def cache_clear(self) -> None:
        self._by_lang.clear()
        self._shared.clear()
        self._size = 0


class _Dictionary:
    """One pymorphy3 analyser's lemmas, a known word's from one lookup in its dictionary.

    `MorphAnalyzer.parse` of a word the dictionary knows returns the dictionary's parses (the rest of
    the dictionary's group finds nothing in a Cyrillic word of two letters or more), reordered by
    P(tag | word) where the dictionary has those (Russian's; a stable sort, most probable first);
    its first parse's normal form is what `lemma` returns. Any other word, or an analyser whose units
    are not laid out so, goes through `parse` itself."""

    def __init__(self, morph: Any) -> None:
        self.morph = morph
        dictionary = morph.dictionary
        self._similar_items = dictionary.words.similar_items
        self._substitutes = morph.char_substitutes
        self._normal_form = dictionary.build_normal_form
        self._tag = dictionary.build_tag_info
        estimator = morph.prob_estimator
        self._probability: Callable[[str, Any], float] | None = (
            None if estimator is None else estimator.p_t_given_w.prob
        )
        self._dictionary_decides = _dictionary_decides(morph)

    def lookup(self, word: str) -> Found:
        """The dictionary's (spelling, [(paradigm, form)]) for `word`: empty when it does not know
        it (`word_is_known`'s answer, from the same walk of the dictionary)."""
        return self._similar_items(word.lower(), self._substitutes)  # type: ignore[no-any-return]

    def lemma(self, word: str, found: Found | None = None) -> str:
        """`word`'s first parse's normal form, ё as е. `found`: `lookup(word)` when already made.
        `word` has a Cyrillic letter."""
        if found is None:
            found = self.lookup(word)
        if found and self._dictionary_decides and len(word) > 1:
            normal_form = self._first_normal_form(word, found)
        else:
            normal_form = str(self.morph.parse(word)[0].normal_form)
        return normal_form.replace("ё", "е")

    def _first_normal_form(self, word: str, found: Found) -> str:
        build = self._normal_form
        forms = [(spelling, para_id, idx) for spelling, parses in found for para_id, idx in parses]
        normal_forms = [build(para_id, idx, spelling) for spelling, para_id, idx in forms]
        first = normal_forms[0]
        probability = self._probability
        if probability is None or all(normal == first for normal in normal_forms):
            return first  # type: ignore[no-any-return]
        # `ProbabilityEstimator.apply_to_parses`: no reordering when every probability is 0, else
        # a stable sort by probability, highest first — the first of the highest either way.
        lower, tag = word.lower(), self._tag
        probabilities = [probability(lower, tag(para_id, idx)) for _, para_id, idx in forms]
        return normal_forms[probabilities.index(max(probabilities))]  # type: ignore[no-any-return]


def _dictionary_decides(morph: Any) -> bool:
    """Whether `morph`'s first group of units is its dictionary and units silent on a Cyrillic
    word of two letters or more (pymorphy3 2.0's Russian and Ukrainian configurations)."""
    units = getattr(morph, "_units", None)
    if not units or not isinstance(units[0].analyzer, DictionaryAnalyzer):
        return False
    for unit in units:
        if unit is not units[0] and not isinstance(unit.analyzer, _SILENT_BESIDE_THE_DICTIONARY):
            return False
        if unit.is_terminal:
            return True
    return False


class Analyzer:
    """Turns text into terms. One per process: the pymorphy dictionaries take ~0.1 s and ~20 MB."""

    def __init__(self) -> None:
        self._uk = _Dictionary(pymorphy3.MorphAnalyzer(lang="uk"))
        self._ru = _Dictionary(pymorphy3.MorphAnalyzer(lang="ru"))
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
        self.analysed = Analysed(self._analyse, maxsize=CACHE_SIZE)

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

    def _analyse(self, raw: str, lang: str) -> Analysis | None:
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
            return (self._uk.lemma(word),)
        if letters & RUSSIAN_LETTERS:
            return (self._ru.lemma(word),)
        first, second = (self._ru, self._uk) if lang == "ru" else (self._uk, self._ru)
        hinted = lang in ("uk", "ru")
        first_found = first.lookup(word)
        if first_found and hinted:
            return (first.lemma(word, first_found),)
        second_found = second.lookup(word)
        if first_found and not second_found:
            return (first.lemma(word, first_found),)
        if second_found and not first_found:
            return (second.lemma(word, second_found),)
        if not first_found and hinted:
            return (first.lemma(word, first_found),)
        return tuple(dict.fromkeys((first.lemma(word, first_found), second.lemma(word, second_found))))

    def _latin(self, word: str, lang: str) -> tuple[str, ...]:
        if set(word) & POLISH_LETTERS or lang == "pl":
            return (fold_polish(self._stem_pl(word)),)
        if lang == "en":
            return (self._stem_en(word),)
        return tuple(dict.fromkeys((self._stem_en(word), fold_polish(self._stem_pl(word)))))
