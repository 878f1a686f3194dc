"""The words the index has seen: typo correction (symmetric deletes, verified by edit distance) and
prefix completion for search-as-you-type.

Corrections are drawn from the index's own words, so a misspelt query word can only become a word
that some article contains. A delete-1 key on both sides finds every word within one edit and the
adjacent transpositions (`оплтаа` → `оплата`); candidates are then checked with the
optimal-string-alignment distance.

A delete key is kept as 30 bits of its hash beside the number of its word, in two arrays of 4-byte
integers sorted by key: 8 bytes a key, where a dict of int keys cost ~70 (a realistic vocabulary of
~145,000 words has ~1.2 million keys: ~80 → ~10 MiB). Keys of words added since the last sort wait
in an unsorted tail, searched as it is and sorted in when it grows (or by `prepare`). A removed
word's keys stay until then and are skipped (it is no longer counted). Keys that share their bits
share a place, so a word found through a key is kept only if deleting one of its letters does give
that key: the candidates are exactly the string keys' (tested against them).
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA

MIN_TYPO_LENGTH = 4
MAX_PREFIX_SCAN = 2000
KEY_BITS = (1 << 30) - 1
BUCKET_SHIFT = 14  # sorted keys found through 65,536 buckets: a lookup bisects ~20 keys, not ~1 million
MIN_TAIL_TO_SORT = 1 << 16  # unsorted keys searched as they are, up to this or a quarter of the sorted


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


def _bucket_starts(keys: npt.NDArray[np.uint32]) -> array[int]:
    bounds = np.arange((KEY_BITS >> BUCKET_SHIFT) + 2, dtype=np.uint64) << np.uint64(BUCKET_SHIFT)
    return array("I", np.searchsorted(keys, bounds).astype(np.uint32).tobytes())


def max_typo_distance(word: str) -> int:
    if len(word) < MIN_TYPO_LENGTH:
        return 0
    return 1 if len(word) < 8 else 2


class Vocabulary:
    """Counts of the surface words of live documents, with the lookups built on them."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        # Word number → word: every word given delete keys, in the order added (a word removed and
        # added again comes again; `_sort_keys` keeps the counted ones, each once).
        self._numbered: list[str] = []
        # Sorted keys and their words' numbers (`array`s: `bisect` reads them without numpy's
        # per-call cost, ~1 µs a lookup).
        self._keys = array("I")
        self._key_words = array("I")
        self._starts = _bucket_starts(np.empty(0, dtype=np.uint32))  # bucket → its first key's place
        self._tail_keys = array("I")
        self._tail_words = array("I")
        self._removed_since_sort = 0  # numbered words no longer counted, their keys still kept
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

    def delete_keys(self) -> int:
        """How many delete keys are kept (with those of removed words not yet dropped)."""
        return len(self._keys) + len(self._tail_keys)

    def add(self, word: str) -> None:
        self.add_all((word,))

    def add_all(self, words: Iterable[str]) -> None:
        """`add` each word: one call per document, not per word (~1 million calls at 10,000
        articles)."""
        counts = self._counts
        numbered = self._numbered
        tail_keys = self._tail_keys
        tail_words = self._tail_words
        for word in words:
            count = counts.get(word, 0)
            counts[word] = count + 1
            if count == 0:
                self._sorted_stale = True
                if len(word) >= MIN_TYPO_LENGTH:
                    keys = {_key(delete) for delete in _deletes(word)}
                    tail_keys.extend(keys)
                    tail_words.extend([len(numbered)] * len(keys))
                    numbered.append(word)

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
            self._removed_since_sort += 1

    def prepare(self) -> None:
        """Sort every key in and drop removed words' keys (after a batch of changes, before the
        queries)."""
        if self._tail_keys or self._removed_since_sort:
            self._sort_keys()

    def _sort_keys(self) -> None:
        """One sorted pair of arrays of the counted words' keys, each (key, word) once, the words
        renumbered without the removed ones and the repeats."""
        counts = self._counts
        renumber = np.empty(len(self._numbered), dtype=np.int64)
        kept: dict[str, int] = {}
        for i, word in enumerate(self._numbered):
            renumber[i] = kept.setdefault(word, len(kept)) if word in counts else -1
        # (key << 32 | word) in one uint64 each, a removed word's as all ones (sorted last), sorted
        # in place and each kept once: ~0.2 s and ~40 MiB of temporaries at 1.5 million keys.
        sorted_n, total = len(self._keys), len(self._keys) + len(self._tail_keys)
        pairs = np.empty(total, dtype=np.uint64)
        pairs[:sorted_n] = np.frombuffer(self._keys, dtype=np.uint32)
        pairs[sorted_n:] = np.frombuffer(self._tail_keys, dtype=np.uint32)
        pairs <<= np.uint64(32)
        numbers = np.empty(total, dtype=np.int64)
        numbers[:sorted_n] = np.frombuffer(self._key_words, dtype=np.uint32)
        numbers[sorted_n:] = np.frombuffer(self._tail_words, dtype=np.uint32)
        pairs |= renumber[numbers].view(np.uint64)
        del numbers
        pairs.sort()
        live = int(np.searchsorted(pairs, np.uint64(0xFFFF_FFFF_FFFF_FFFF)))
        first = np.empty(live, dtype=bool)
        first[:1] = True
        np.not_equal(pairs[1:live], pairs[: max(live - 1, 0)], out=first[1:])
        pairs = pairs[:live][first]
        keys = (pairs >> np.uint64(32)).astype(np.uint32)
        self._starts = _bucket_starts(keys)
        self._keys = array("I", keys.tobytes())
        self._key_words = array("I", pairs.astype(np.uint32).tobytes())  # the low 32 bits
        self._numbered = list(kept)
        self._tail_keys = array("I")
        self._tail_words = array("I")
        self._removed_since_sort = 0

    def _from_deletes(self, deletes: Iterable[str]) -> set[str]:
        """The counted words that one of `deletes` is a delete key of (one call for a query word's
        ~10 keys: the arrays bound once)."""
        tail = self._tail_keys
        if tail and len(tail) > max(MIN_TAIL_TO_SORT, len(self._keys) // 4):
            self._sort_keys()
            tail = self._tail_keys
        keys, starts, key_words = self._keys, self._starts, self._key_words
        numbered, tail_words, counts = self._numbered, self._tail_words, self._counts
        # The tail can grow again only once no view of it is left: this one ends with the call.
        view = np.frombuffer(tail, dtype=np.uint32) if tail else None
        out: set[str] = set()
        for delete in deletes:
            key = _key(delete)
            bucket = key >> BUCKET_SHIFT
            start = bisect_left(keys, key, starts[bucket], starts[bucket + 1])
            if start < len(keys) and keys[start] == key:
                found = [numbered[i] for i in key_words[start : bisect_right(keys, key, start)]]
            elif view is None:
                continue
            else:
                found = []
            if view is not None:
                found += [numbered[tail_words[i]] for i in np.flatnonzero(view == key).tolist()]
            out.update([word for word in found if word in counts and _is_delete_of(delete, word)])
        return out

    def corrections(self, word: str, *, limit: int = 3) -> list[Correction]:
        """Known words within the typo distance allowed for `word`, closest and commonest first."""
        max_distance = max_typo_distance(word)
        if not max_distance:
            return []
        deletes = _deletes(word)
        candidates = self._from_deletes([word, *deletes])
        candidates.update(deletes & self._counts.keys())
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
