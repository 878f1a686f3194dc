"""The words the index has seen: typo correction (symmetric deletes, verified by edit distance) and
prefix completion for search-as-you-type.

Corrections are drawn from the index's own words, so a misspelt query word can only become a word
that some article contains. A delete-1 key on both sides finds every word within one edit and the
adjacent transpositions (`оплтаа` → `оплата`); candidates are then checked with the
optimal-string-alignment distance.

A delete key is kept as 30 bits of its hash, not as the string: 28 bytes an int against ~72 for the
key strings (26,059 keys for 3,769 words at 10,000 generated articles: 1.9 → 0.7 MiB). Keys that
share their bits share a bucket, so a word found through a key is kept only if deleting one of its
letters does give that key: the candidates are exactly the string keys' (tested against them).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

MIN_TYPO_LENGTH = 4
MAX_PREFIX_SCAN = 2000
KEY_BITS = (1 << 30) - 1  # below 2**30 an int is 28 bytes


@dataclass(frozen=True, slots=True)
class Correction:
    word: str
    distance: int
    count: int


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _key(delete: str) -> int:
    """Where a delete key's words are kept (process-local: `hash` of a string is seeded per process)."""
    return hash(delete) & KEY_BITS


def _is_delete_of(delete: str, word: str) -> bool:
    """Whether removing one letter of `word` gives `delete`."""
    if len(word) != len(delete) + 1:
        return False
    for i, letter in enumerate(delete):
        if word[i] != letter:
            return word[i + 1 :] == delete[i:]
    return True


def max_typo_distance(word: str) -> int:
    if len(word) < MIN_TYPO_LENGTH:
        return 0
    return 1 if len(word) < 8 else 2


class Vocabulary:
    """Counts of the surface words of live documents, with the lookups built on them."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        # Delete key (`_key`) → the word, or the set of words, it comes from: most keys come from
        # one word, and a set of one cost ~200 bytes a key (two thirds of the vocabulary's memory).
        self._by_delete: dict[int, str | set[str]] = {}
        self._sorted: list[str] = []
        self._sorted_stale = False

    def __contains__(self, word: str) -> bool:
        return word in self._counts

    def __len__(self) -> int:
        return len(self._counts)

    def words(self) -> list[str]:
        return list(self._counts)

    def count(self, word: str) -> int:
        return self._counts.get(word, 0)

    def add(self, word: str) -> None:
        self.add_all((word,))

    def add_all(self, words: Iterable[str]) -> None:
        """`add` each word: one call per document, not per word (~1 million calls at 10,000
        articles)."""
        counts = self._counts
        by_delete = self._by_delete
        for word in words:
            count = counts.get(word, 0)
            counts[word] = count + 1
            if count == 0:
                self._sorted_stale = True
                if len(word) >= MIN_TYPO_LENGTH:
                    for key in map(_key, _deletes(word)):
                        bucket = by_delete.get(key)
                        if bucket is None:
                            by_delete[key] = word
                        elif isinstance(bucket, str):
                            if bucket != word:  # two of its own keys with the same bits
                                by_delete[key] = {bucket, word}
                        else:
                            bucket.add(word)

    def discard(self, word: str) -> None:
        count = self._counts.get(word, 0)
        if count > 1:
            self._counts[word] = count - 1
            return
        if count == 0:
            return
        del self._counts[word]
        self._sorted_stale = True
        if len(word) >= MIN_TYPO_LENGTH:
            by_delete = self._by_delete
            for key in map(_key, _deletes(word)):
                bucket = by_delete.get(key)
                if bucket == word:
                    del by_delete[key]
                elif isinstance(bucket, set):
                    bucket.discard(word)
                    if len(bucket) == 1:
                        by_delete[key] = bucket.pop()

    def _from_delete(self, delete: str) -> Iterable[str]:
        """The words that `delete` is a delete key of."""
        bucket = self._by_delete.get(_key(delete))
        if bucket is None:
            return ()
        if isinstance(bucket, str):
            return (bucket,) if _is_delete_of(delete, bucket) else ()
        return [word for word in bucket if _is_delete_of(delete, word)]

    def corrections(self, word: str, *, limit: int = 3) -> list[Correction]:
        """Known words within the typo distance allowed for `word`, closest and commonest first."""
        max_distance = max_typo_distance(word)
        if not max_distance:
            return []
        candidates: set[str] = set(self._from_delete(word))
        for key in _deletes(word):
            if key in self._counts:
                candidates.add(key)
            candidates.update(self._from_delete(key))
        found = []
        for candidate in candidates:
            if candidate == word:
                continue
            distance = OSA.distance(word, candidate, score_cutoff=max_distance)
            if distance <= max_distance:
                found.append(Correction(candidate, distance, self._counts[candidate]))
        found.sort(key=lambda c: (c.distance, -c.count, c.word))
        return found[:limit]

    def completions(self, prefix: str, *, limit: int = 8) -> list[str]:
        """The commonest known words starting with `prefix` (the prefix itself excluded)."""
        if self._sorted_stale:
            self._sorted = sorted(self._counts)
            self._sorted_stale = False
        start = bisect_left(self._sorted, prefix)
        scanned = []
        for word in self._sorted[start : start + MAX_PREFIX_SCAN]:
            if not word.startswith(prefix):
                break
            if word != prefix:
                scanned.append(word)
        return heapq.nlargest(limit, scanned, key=lambda w: (self._counts[w], w))
