"""BM25 scores of a query plan over the terms' champion lists, and the candidates to group.

A document outside the top `CHAMPIONS` of every query term is not ranked (it would rank low
anyway), which bounds a query's work; the exact set of matching documents (for `total` and the
section facets) comes from the terms' bitsets instead (`Postings.matching`).
"""

from __future__ import annotations

import heapq
from operator import itemgetter

from kb_search.search.postings import Champion, Postings
from kb_search.search.query import QueryPlan

OTHER_LANGUAGE_FACTOR = 0.5


def score(plan: QueryPlan, postings: Postings, *, section: str = "") -> dict[int, float]:
    """Each token adds its best alternative's score (or, for a glossary concept, the sum of its
    terms'); only documents in `section` when given. The first list read fills a dict in one
    comprehension: most queries have one or two tokens."""
    scores: dict[int, float] = {}
    for token in plan.tokens:
        alternatives = token.alternatives
        if len(alternatives) == 1 or token.summed:
            for term, weight in alternatives.items():
                _add(scores, postings.champions(term, section), weight * postings.idf(term))
            continue
        best: dict[int, float] = {}
        for term, weight in alternatives.items():
            factor = weight * postings.idf(term)
            docs, impacts = postings.champions(term, section)
            if not best:
                best = {d: factor * impact for d, impact in zip(docs, impacts, strict=True)}
                continue
            best_get = best.get
            for d, impact in zip(docs, impacts, strict=True):
                value = factor * impact
                if value > best_get(d, 0.0):
                    best[d] = value
        if scores:
            get = scores.get
            for d, value in best.items():
                scores[d] = get(d, 0.0) + value
        else:
            scores = best
    return scores


def _add(scores: dict[int, float], champion: Champion, factor: float) -> None:
    docs, impacts = champion
    if not scores:
        scores.update({d: factor * impact for d, impact in zip(docs, impacts, strict=True)})
        return
    get = scores.get
    for d, impact in zip(docs, impacts, strict=True):
        scores[d] = get(d, 0.0) + factor * impact


def candidates(
    scores: dict[int, float], *, langs: list[str], languages: frozenset[str], count: int
) -> list[tuple[int, float]]:
    """The best `count` documents to group, versions in the query's language first in line:
    without that, other-language versions matched through the glossary crowd out the direct
    matches. Other-language scores count `OTHER_LANGUAGE_FACTOR` times; ties go to the higher
    raw score, then to scoring order, so every replica ranks alike.

    Documents are read by raw score, best first, until a raw score is below the `count`-th best
    adjusted one (an adjusted score is never above the raw one): most are never adjusted."""
    if not languages:
        return heapq.nlargest(count, scores.items(), key=itemgetter(1))
    picked: list[tuple[int, float]] = []
    kept: list[float] = []  # a min-heap of the best `count` adjusted scores
    by_raw = iter(sorted(scores, key=scores.__getitem__, reverse=True))
    for d in by_raw:
        value = scores[d] if langs[d] in languages else scores[d] * OTHER_LANGUAGE_FACTOR
        picked.append((d, value))
        heapq.heappush(kept, value)
        if len(kept) == count:
            break
    threshold = kept[0] if kept else 0.0
    for d in by_raw:
        value = scores[d]
        if value < threshold:
            break
        if langs[d] not in languages:
            value *= OTHER_LANGUAGE_FACTOR
        picked.append((d, value))
        if value > threshold:
            heapq.heapreplace(kept, value)
            threshold = kept[0]
    picked.sort(key=itemgetter(1), reverse=True)
    return [(d, scores[d]) for d, _ in picked[:count]]
