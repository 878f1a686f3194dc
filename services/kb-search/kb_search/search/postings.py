"""Per-term postings of the index, and what queries read from them.

Each term maps documents to their weighted term frequency, kept as two parallel arrays (document
numbers and tf, in posting order: a document indexed again goes last, as in a dict): 6 bytes a
posting, against ~90 for a dict of floats. A tf is a whole number (field weights times counts), so
it is kept as a 16-bit unsigned integer, and a term whose tf in some document is above 65,535 (a
word written ~20,000 times in a title or ~65,000 times in a body) has its tfs as 32-bit floats
instead, exact below 2^24: scores are the same as with 64-bit floats (an integer tf becomes the same
float in every sum and quotient). Queries read three things derived from them, each built
when first needed and dropped when that term (or the length norms) change:

- a champion list per term and section: the `CHAMPIONS` postings with the highest saturated tf,
  best first, as two parallel tuples (documents, impacts) so scoring loops over plain tuples;
- a bitset per term (a Python int, bit `d` set for document `d`): the exact set of matching
  documents in one `|` per term, counted per section with `&` and `int.bit_count`;
- the idf of the term for the current document count.

A term with at most `CHAMPIONS` postings (the median term of a realistic vocabulary has 7) keeps
neither: its champion list would be all its postings reordered, and its bitset (~N/8 bytes at N
documents, 1.25 KiB at 10,000) more than its postings (6 bytes each). Both are derived from the
postings when asked, in the same arithmetic and order, and not kept: on a realistic vocabulary
they were 69 of 71 MiB of bitsets and 38.5 of 41 MiB of champion lists.

Length normalisation is BM25's, shared by the title, tag and body fields (BM25F); each document's
norm is recomputed in one pass when the average length drifts by more than `RENORMALISE_DRIFT`,
so an update never rewrites other documents' postings.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from itertools import repeat
from operator import eq

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75
RENORMALISE_DRIFT = 0.1
CHAMPIONS = 128
MAX_SHORT_TF = 65_535

Champion = tuple["array[int]", "array[float]"]


class Postings:
    """Not thread-safe: one event loop feeds and queries it."""

    def __init__(self) -> None:
        # Term → its documents, and (`_tfs`) their weighted tf at the same positions.
        self.docs: dict[str, array[int]] = {}
        self._tfs: dict[str, array[int] | array[float]] = {}  # 16-bit, else 32-bit floats
        self._lengths: dict[int, float] = {}
        self._norms: list[float] = []
        self._norms_array: npt.NDArray[np.float64] | None = None  # `_norm_array`
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
            tf = int(value)
            if docs is None:
                all_docs[term] = array("i", (doc_id,))
                all_tfs[term] = array("H", (tf,)) if tf <= MAX_SHORT_TF else array("f", (tf,))
                continue
            docs.append(doc_id)
            tfs = all_tfs[term]
            try:
                tfs.append(tf)
            except OverflowError:  # above 16 bits: this term's tfs as 32-bit floats from now on
                all_tfs[term] = array("f", (*tfs, tf))
        # While a replica catches up nothing is derived yet: no lists to drop.
        if champions or bits:
            for term in weighted:
                champions.pop(term, None)
                bits.pop(term, None)
        length = float(sum(weighted.values())) or 1.0
        self._lengths[doc_id] = length
        self._total_length += length
        self._norms[doc_id] = self._norm(length)
        self._norms_array = None

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
        for term, docs in self.docs.items():
            if len(docs) > CHAMPIONS:
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
        """Whether the document contains `term` (from the term's bitset, or its few postings)."""
        docs = self.docs.get(term)
        if docs is None:
            return False
        if len(docs) <= CHAMPIONS:
            return doc_id in docs
        return bool(self.bits(term) >> doc_id & 1)

    def section_of(self, doc_id: int) -> str:
        return self._sections[doc_id]

    def champions(self, term: str, section: str = "") -> Champion:
        """The term's best postings (documents, saturated tf), best first; only `section`'s when
        given, so a section filter ranks as well as an unfiltered query."""
        if len(self.docs[term]) <= CHAMPIONS:
            return self._build_champions(term, section)
        by_section = self._champions.get(term)
        if by_section is None:
            by_section = self._champions[term] = {}
        found = by_section.get(section)
        if found is None:
            found = by_section[section] = self._build_champions(term, section)
        return found

    def _build_champions(self, term: str, section: str) -> Champion:
        # numpy over the whole list, read once per term and change (2,608 terms of ~375 postings
        # at 10,000 articles: 0.30 -> 0.06 s). The same float64 arithmetic as Python's floats, so
        # the same impacts; a stable sort keeps ties in posting order.
        docs = np.array(self.docs[term], dtype=np.intc)
        tfs = np.array(self._tfs[term], dtype=np.float64)
        if section:
            sections = self._sections
            keep = np.fromiter(map(eq, map(sections.__getitem__, docs.tolist()), repeat(section)), bool)
            docs, tfs = docs[keep], tfs[keep]
        impacts = tfs / (tfs + self._norm_array()[docs])
        order = np.argsort(-impacts, kind="stable")[:CHAMPIONS]
        return array("i", docs[order].tobytes()), array("d", impacts[order].tobytes())

    def _norm_array(self) -> npt.NDArray[np.float64]:
        """The norms as a numpy array, copied again after a norm changes."""
        if self._norms_array is None:
            self._norms_array = np.array(self._norms, dtype=np.float64)
        return self._norms_array

    def bits(self, term: str) -> int:
        """The documents containing `term`, as a bitset."""
        found = self._bits.get(term)
        if found is None:
            docs = self.docs[term]
            found = _bitset(np.frombuffer(docs, dtype=np.intc))
            if len(docs) > CHAMPIONS:
                self._bits[term] = found
        return found

    def matching(self, terms: set[str]) -> int:
        """The documents containing any of `terms`, as a bitset: the few postings of all short
        terms packed in one go, or'ed with the kept bitsets of the others."""
        union = 0
        short: list[array[int]] = []
        for term in terms:
            docs = self.docs[term]
            if len(docs) <= CHAMPIONS:
                short.append(docs)
            else:
                union |= self.bits(term)
        if short:
            union |= _bitset(np.concatenate([np.frombuffer(docs, dtype=np.intc) for docs in short]))
        return union

    def facets(self, matching: int) -> dict[str, int]:
        """Exact counts of the `matching` documents per section, sections without one left out."""
        out = {}
        for section, mask in sorted(self._section_bits.items()):
            count = (matching & mask).bit_count()
            if count:
                out[section] = count
        return out


def _bitset(docs: npt.NDArray[np.intc]) -> int:
    """An int with bit d set for each document d of `docs` (not empty)."""
    flags = np.zeros(int(docs.max()) + 1, dtype=bool)
    flags[docs] = True
    # Bit d of the int is flag d: packed eight to a byte, least significant first.
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")
