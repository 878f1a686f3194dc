"""Lexical and dense scores → one ranking (weighted reciprocal-rank fusion).

Each list contributes `weight * (k + 1) / (k + rank)` for a document it ranks (1 at rank one). The
lexical list's weight is scaled by the query's coverage: the share of its words the index knows in
their own right (typed, corrected or completed; not through the glossary or transliteration). A
query typed in the articles' language is carried by its words; a Ukrainian query for an
English-only article has few words the index knows, and the dense list decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Protocol


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

    def scores(self, text: str, *, langs: Sequence[str], limit: int) -> dict[int, float] | None: ...


@dataclass(frozen=True, slots=True)
class Fusion:
    signals: Signals = Signals.HYBRID
    # Tuned on the wiki set's tuning half (k 5/10/30 × lexical weight 0.5–1.5).
    k: float = 5.0
    lexical_weight: float = 0.8
    dense_weight: float = 1.0
    depth: int = 50  # dense neighbours fused per query
    min_coverage: float = 0.0


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
