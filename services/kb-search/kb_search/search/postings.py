"""Per-term postings of the index, and what queries read from them.

Each term maps documents to their weighted term frequency, kept as two parallel arrays (document
numbers and tf, in posting order: a document indexed again goes last, as in a dict): 8 bytes a
posting, against ~90 for a dict of floats. A tf is a whole number (field weights times counts), so
a 32-bit float holds it exactly (below 2^24, far above any article's length): scores are the same as
with 64-bit floats. Queries read three things derived from them, each built
when first needed and dropped when that term (or the length norms) change:

- a champion list per term and section: the `CHAMPIONS` postings with the highest saturated tf,
  best first, as two parallel tuples (documents, impacts) so scoring loops over plain tuples;
- a bitset per term (a Python int, bit `d` set for document `d`): the exact set of matching
  documents in one `|` per term, counted per section with `&` and `int.bit_count`;
- the idf of the term for the current document count.

Length normalisation is BM25's, shared by the title, tag and body fields (BM25F); each document's
norm is recomputed in one pass when the average length drifts by more than `RENORMALISE_DRIFT`,
so an update never rewrites other documents' postings.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Iterable
from itertools import compress, repeat
from operator import add, eq, ge, sub, truediv

K1 = 1.2
B = 0.75
RENORMALISE_DRIFT = 0.1
CHAMPIONS = 128

Champion = tuple["array[int]", "array[float]"]


class Postings:
    """Not thread-safe: one event loop feeds and queries it."""

    def __init__(self) -> None:
        # Term → its documents, and (`_tfs`) their weighted tf at the same positions.
        self.docs: dict[str, array[int]] = {}
        self._tfs: dict[str, array[float]] = {}  # 32-bit: exact for whole numbers
        self._lengths: dict[int, float] = {}
        self._norms: list[float] = []
        self._sections: list[str] = []
        self._total_length = 0.0
        self._norm_average = 0.0
        # Term → section ("" for all) → champion list.
        self._champions: dict[str, dict[str, Champion]] = {}
        self._bits: dict[str, int] = {}
        self._section_bits: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, doc_id: int, weighted: dict[str, float], *, section: str) -> None:
        """Index a new document (or the new version of one just `remove`d) under its terms."""
        while len(self._norms) <= doc_id:
            self._norms.append(1.0)
            self._sections.append("")
        self._sections[doc_id] = section
        self._section_bits[section] = self._section_bits.get(section, 0) | 1 << doc_id
        all_docs, all_tfs, champions, bits = self.docs, self._tfs, self._champions, self._bits
        get = all_docs.get
        for term, value in weighted.items():
            docs = get(term)
            if docs is None:
                all_docs[term] = array("i", (doc_id,))
                all_tfs[term] = array("f", (value,))
            else:
                docs.append(doc_id)
                all_tfs[term].append(value)
        # While a replica catches up nothing is derived yet: no lists to drop.
        if champions or bits:
            for term in weighted:
                champions.pop(term, None)
                bits.pop(term, None)
        length = float(sum(weighted.values())) or 1.0
        self._lengths[doc_id] = length
        self._total_length += length
        self._norms[doc_id] = self._norm(length)

    def remove(self, doc_id: int, terms: Iterable[str]) -> None:
        all_docs, all_tfs, champions, bits = self.docs, self._tfs, self._champions, self._bits
        for term in terms:
            champions.pop(term, None)
            bits.pop(term, None)
            docs = all_docs[term]
            if len(docs) == 1:
                del all_docs[term], all_tfs[term]
                continue
            # A C-level scan of the term's documents: an update costs ~1 ms at 10,000 articles.
            at = docs.index(doc_id)
            del docs[at], all_tfs[term][at]
        self._total_length -= self._lengths.pop(doc_id)
        self._section_bits[self._sections[doc_id]] &= ~(1 << doc_id)

    def _norm(self, length: float) -> float:
        average = self._total_length / len(self._lengths)
        if abs(average - self._norm_average) > RENORMALISE_DRIFT * self._norm_average:
            self._norm_average = average
            self._champions.clear()
            for doc_id, doc_length in self._lengths.items():
                self._norms[doc_id] = K1 * (1 - B + B * doc_length / average)
        return K1 * (1 - B + B * length / self._norm_average)

    def prepare(self) -> None:
        """Build every term's champion list and bitset now rather than on the first query that
        needs them: a replica does this once it has caught up, before it reports ready."""
        for term in self.docs:
            self.champions(term)
            self.bits(term)

    # ---- reading -------------------------------------------------------------------------------

    def idf(self, term: str) -> float:
        n_docs, df = len(self._lengths), len(self.docs[term])
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))

    def impact(self, term: str, doc_id: int) -> float:
        """The saturated tf of `term` in one document (0 when absent)."""
        docs = self.docs.get(term)
        if docs is None or doc_id not in docs:
            return 0.0
        tf = self._tfs[term][docs.index(doc_id)]
        return tf / (tf + self._norms[doc_id])

    def contains(self, term: str, doc_id: int) -> bool:
        """Whether the document contains `term` (from the term's bitset)."""
        return term in self.docs and bool(self.bits(term) >> doc_id & 1)

    def section_of(self, doc_id: int) -> str:
        return self._sections[doc_id]

    def champions(self, term: str, section: str = "") -> Champion:
        """The term's best postings (documents, saturated tf), best first; only `section`'s when
        given, so a section filter ranks as well as an unfiltered query."""
        by_section = self._champions.get(term)
        if by_section is None:
            by_section = self._champions[term] = {}
        found = by_section.get(section)
        if found is None:
            found = by_section[section] = self._build_champions(term, section)
        return found

    def _build_champions(self, term: str, section: str) -> Champion:
        # The whole list is read once per term and change: C-level `map`s over it, Python loops
        # only over the champions. Ties keep posting order, as a stable sort would.
        docs, tfs = list(self.docs[term]), list(self._tfs[term])
        if section:
            keep = list(map(eq, map(self._sections.__getitem__, docs), repeat(section)))
            docs, tfs = list(compress(docs, keep)), list(compress(tfs, keep))
        impacts = list(map(truediv, tfs, map(add, tfs, map(self._norms.__getitem__, docs))))
        if len(impacts) > CHAMPIONS:
            threshold = sorted(impacts, reverse=True)[CHAMPIONS - 1]
            keep = list(map(ge, impacts, repeat(threshold)))
            docs, impacts = list(compress(docs, keep)), list(compress(impacts, keep))
        order = sorted(range(len(impacts)), key=impacts.__getitem__, reverse=True)[:CHAMPIONS]
        return array("i", map(docs.__getitem__, order)), array("d", map(impacts.__getitem__, order))

    def bits(self, term: str) -> int:
        """The documents containing `term`, as a bitset."""
        found = self._bits.get(term)
        if found is None:
            docs = self.docs[term]
            top = max(docs)
            # Bit d is digit `top - d` of a base-2 numeral: set in C, parsed in linear time.
            digits = bytearray(b"0") * (top + 1)
            deque(map(digits.__setitem__, map(sub, repeat(top), docs), repeat(ord("1"))), maxlen=0)
            found = self._bits[term] = int(digits, 2)
        return found

    def matching(self, terms: set[str]) -> int:
        """The documents containing any of `terms`, as a bitset."""
        union = 0
        for term in terms:
            union |= self.bits(term)
        return union

    def facets(self, matching: int) -> dict[str, int]:
        """Exact counts of the `matching` documents per section, sections without one left out."""
        out = {}
        for section, mask in sorted(self._section_bits.items()):
            count = (matching & mask).bit_count()
            if count:
                out[section] = count
        return out
