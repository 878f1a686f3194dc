"""Lexical and dense scores → one ranking (weighted reciprocal-rank fusion).

Each list contributes `weight * (k + 1) / (k + rank)` for a document it ranks (1 at rank one). The
lexical list's weight is scaled by the query's coverage: the share of its words the index knows in
their own right (typed, corrected or completed; not through the glossary or transliteration). A
query typed in the articles' language is carried by its words; a Ukrainian query for an
English-only article has few words the index knows, and the dense list decides.

The model costs ~20 ms of CPU per new query, so it is asked only when it can change the answer
(`needs_dense`): a query whose words the index knows in their own right, whose best lexical
document contains every one of them, in a language the query may be typed in, and clearly ahead of
the next article (`Confidence`) is answered lexically. Cross-language queries (words the index does
not know) and uncertain ones go through the model.

"No good answer" (`no_good_answer`): e5's cosines are compressed (right answers 0.80-0.95, gibberish's
nearest article 0.82-0.86), so the best cosine alone cannot tell. Each query's is compared with
its own mean cosine to generic sentences that answer nothing (`embedding/parallel.json`): a query
whose best article is barely closer to it than small talk is, and whose words the index does not
all know, has no answer. Calibrated on the wiki set's tuning half and negative queries
(`benchmarks/data/kb_wiki_negatives.jsonl`), reported on the test half (`benchmarks/kb_relevance.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Signals(StrEnum):
    LEXICAL = "lexical"
    DENSE = "dense"
    HYBRID = "hybrid"


class DenseSignal(Protocol):
    """The dense side as the index sees it (`kb_search.embedding.dense.DenseIndex`)."""

    @property
    def generation(self) -> int:
        """Changes whenever a document's vector is installed or dropped (for the result cache)."""
        ...

    def add(self, doc_id: int, *, title: str, text: str, lang: str) -> None: ...

    def discard(self, doc_id: int) -> None: ...

    @property
    def available(self) -> bool: ...

    def has_query_vector(self, text: str, langs: Sequence[str]) -> bool:
        """The query's vector is at hand: `scores` will not call the model."""
        ...

    async def embed_query(self, text: str, langs: Sequence[str]) -> Vectors | None:
        """The query's vector, made by the model in a worker thread (the event loop stays free)."""
        ...

    def scores(
        self, text: str, *, langs: Sequence[str], limit: int, vector: Vectors | None = None
    ) -> dict[int, float] | None: ...

    def generic_similarity(
        self, text: str, *, langs: Sequence[str], vector: Vectors | None = None
    ) -> float | None:
        """The query's mean cosine to generic sentences (None: no reference, no "no answer" rule)."""
        ...


@dataclass(frozen=True, slots=True)
class Fusion:
    signals: Signals = Signals.HYBRID
    # Tuned on the wiki set's tuning half (k 5/10/30 × lexical weight 0.5–1.5).
    k: float = 5.0
    lexical_weight: float = 0.8
    dense_weight: float = 1.0
    depth: int = 50  # dense neighbours fused per query
    min_coverage: float = 0.0
    # Ask the model only when the lexical answer is not confident (`needs_dense`); False: always.
    gate: bool = True
    # Tuned on the tuning half: the best lexical article's score over the next article's.
    confident_margin: float = 1.3
    # "No good answer" below this lead of the best article's cosine over the query's mean cosine
    # to generic sentences (see `no_good_answer`); None: always answer, the service's default (the
    # setting `answer_lead`), because the rule costs right answers (`TUNED_ANSWER_LEAD`).
    answer_lead: float | None = None


# Tuning half: negatives at 0.024-0.071, the lowest right answer at 0.042, the next at 0.049. At
# 0.047 the wiki set's test half answers 13 of 20 negative queries with nothing, and loses two right
# answers (recall@3 0.911 -> 0.891 overall, 0.850 -> 0.833 cross-language): below the FAQ's recall
# targets, so the service turns it on only when configured.
TUNED_ANSWER_LEAD = 0.047


@dataclass(frozen=True, slots=True)
class Confidence:
    """How sure the lexical ranking is of its first article."""

    coverage: float  # share of the query's words the index knows in their own right
    matched: float  # share of the query's own words (not glossary concepts) the best document has
    margin: float  # the best article's lexical score over the next article's (inf: no other)
    same_script: bool  # the best article (or a version of it) is in a language the query may be in


def needs_dense(confidence: Confidence, fusion: Fusion) -> bool:
    """Whether the dense signal can change the answer: False only when the lexical ranking is sure."""
    if fusion.signals is Signals.LEXICAL:
        return False
    if fusion.signals is Signals.DENSE or not fusion.gate:
        return True
    confident = (
        confidence.coverage >= 1.0
        and confidence.matched >= 1.0
        and confidence.same_script
        and confidence.margin >= fusion.confident_margin
    )
    return not confident


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a fused search knows about whether any article answers the query."""

    coverage: float  # share of the query's words the index knows in their own right
    best: float  # the nearest article's cosine
    generic: float  # the query's mean cosine to generic sentences that answer nothing


def no_good_answer(evidence: Evidence, fusion: Fusion) -> bool:
    """True when no article answers the query: some of its words are unknown to the index and the
    nearest article is not clearly closer to it than small talk is."""
    if fusion.answer_lead is None or fusion.signals is Signals.LEXICAL:
        return False
    return evidence.coverage < 1.0 and evidence.best - evidence.generic < fusion.answer_lead


def _ranked(scores: dict[int, float]) -> list[int]:
    return [d for d, _ in sorted(scores.items(), key=itemgetter(1), reverse=True)]


def fuse(
    lexical: dict[int, float], dense: dict[int, float], *, coverage: float, fusion: Fusion
) -> dict[int, float]:
    k = fusion.k
    out: dict[int, float] = {}
    lexical_weight = fusion.lexical_weight * max(coverage, fusion.min_coverage)
    if fusion.signals is not Signals.DENSE and lexical_weight > 0:
        for rank, d in enumerate(_ranked(lexical), start=1):
            out[d] = lexical_weight * (k + 1) / (k + rank)
    if fusion.signals is not Signals.LEXICAL:
        get = out.get
        for rank, d in enumerate(_ranked(dense)[: fusion.depth], start=1):
            out[d] = get(d, 0.0) + fusion.dense_weight * (k + 1) / (k + rank)
    return out
