"""The in-memory index of one replica (the articles it holds and their writing: `store`), and its
ranking.

Ranking is BM25 over one virtual field in which the title counts `TITLE_WEIGHT` times, tags
`TAG_WEIGHT` times and the body once (BM25F with a shared length normalisation, `postings`), over
each term's champion list (`ranking`). `total` and the section facets are exact: they count every
document containing a query term, from per-term bitsets. Language versions of one article are
grouped into one hit, and only the returned hits are rendered (`hits`).

With a dense signal (`fusion`), the lexical scores and the nearest documents by embedding are fused
before grouping; without one (or while a document has no vector yet) ranking is lexical.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import TypedDict, Unpack

from prometheus_client import Counter as Metric

from kb_search.search.analysis import Analyzer
from kb_search.search.bodies import BodyFile
from kb_search.search.crosslang import CrossLanguage, Glossary
from kb_search.search.fusion import (
    Confidence,
    DenseSignal,
    Evidence,
    Fusion,
    Signals,
    Vectors,
    fuse,
    needs_dense,
    no_good_answer,
)
from kb_search.search.hits import render_hit
from kb_search.search.query import QueryPlan, QueryPlanner
from kb_search.search.ranking import OTHER_LANGUAGE_FACTOR, candidates, score
from kb_search.search.results import EMPTY_RESULT, Hit, SearchResult
from kb_search.search.store import IndexStore

PREFERRED_LANGUAGE_BOOST = 1.25
SECTION_BOOST = 1.2
CANDIDATES_PER_HIT = 3
LATIN_LANGUAGES = frozenset({"en", "pl"})

__all__ = ["SearchIndex", "SearchOptions"]

DENSE_DECISIONS = Metric(
    "helpdesk_kb_search_dense_total",
    "Searches by whether the dense signal was asked (used) or the lexical ranking was sure (skipped)",
    ["decision"],
)
NO_ANSWER = Metric(
    "helpdesk_kb_search_no_answer_total",
    "Searches answered with nothing: no article is clearly closer to the query than small talk",
)


class SearchOptions(TypedDict, total=False):
    """What a search may be asked besides its text (see `SearchIndex.search`)."""

    lang: str
    section: str
    limit: int
    prefix: bool
    boost_section: str


@dataclass(frozen=True, slots=True)
class _Query:
    """One search as asked: built once per call, the cache key with the index's dense generation."""

    text: str
    lang: str = ""
    section: str = ""
    limit: int = 10
    prefix: bool = True
    boost_section: str = ""
    dense: bool = True


@dataclass(slots=True)
class _Pending:
    """A search between its lexical half and its end: `dense_langs` set when it wants the query's
    vector (the languages its bias correction uses), `vector` once it was made off the loop."""

    query: _Query
    result: SearchResult | None = None
    plan: QueryPlan | None = None
    facets: dict[str, int] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)
    top: list[tuple[int, float]] = field(default_factory=list)
    dense_langs: tuple[str, ...] | None = None
    vector: Vectors | None = None


class SearchIndex(IndexStore):
    """Live articles of one replica (`IndexStore`) and their ranking. Not thread-safe: one event
    loop feeds and queries it."""

    def __init__(
        self,
        *,
        analyzer: Analyzer,
        glossary: Glossary | None = None,
        cross_language: CrossLanguage = CrossLanguage.BOTH,
        cache_size: int = 0,
        dense: DenseSignal | None = None,
        fusion: Fusion | None = None,
        bodies: BodyFile | None = None,
    ) -> None:
        super().__init__(analyzer=analyzer, dense=dense, bodies=bodies)
        self.fusion = fusion or Fusion()
        self._planner = QueryPlanner(
            analyzer=analyzer, glossary=glossary or Glossary(), cross_language=cross_language
        )
        self._cache: OrderedDict[tuple[_Query, int], SearchResult] = OrderedDict()
        self._cache_size = cache_size

    def _changed(self) -> None:
        super()._changed()
        self._cache.clear()

    def search(self, text: str, *, dense: bool = True, **options: Unpack[SearchOptions]) -> SearchResult:
        """Ranked hits; a query that needs the dense signal is embedded here, on the caller's
        thread (see `search_async` for the event loop). `dense=False`: lexical only, never the
        model (search-as-you-type: a keystroke must not cost a forward pass)."""
        query = _Query(text, dense=dense, **options)
        key = self._cache_key(query)
        cached = self._cached(key)
        if cached is not None:
            return cached
        return self._remember(key, self._finish(self._begin(query)))

    async def search_async(self, text: str, **options: Unpack[SearchOptions]) -> SearchResult:
        """As `search`, for the event loop: when the query needs a vector the model has to make,
        the model runs in a worker thread and the loop serves other requests meanwhile. The index
        itself is only read and written on the loop."""
        query = _Query(text, **options)
        key = self._cache_key(query)
        cached = self._cached(key)
        if cached is not None:
            return cached
        pending = self._begin(query)
        dense, langs = self.dense, pending.dense_langs
        if langs is not None and dense is not None and not dense.has_query_vector(text, langs):
            generation = self.generation
            vector = await dense.embed_query(text, langs)
            if self.generation != generation:  # articles changed meanwhile: plan again
                pending = self._begin(query)
            if pending.dense_langs == langs:
                pending.vector = vector
        return self._remember(key, self._finish(pending))

    def _cache_key(self, query: _Query) -> tuple[_Query, int]:
        return query, self.dense.generation if self.dense is not None else 0

    def _cached(self, key: tuple[_Query, int]) -> SearchResult | None:
        cached = self._cache.get(key) if self._cache_size else None
        if cached is not None:
            self._cache.move_to_end(key)
        return cached

    def _remember(self, key: tuple[_Query, int], result: SearchResult) -> SearchResult:
        if self._cache_size:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _begin(self, query: _Query) -> _Pending:
        """The lexical half of a search, and whether the dense signal is wanted (`dense_langs`)."""
        text = query.text
        if not self._docs or not text.strip():
            return _Pending(query, result=EMPTY_RESULT)
        plan = self._planner.plan(
            text, lang=query.lang, view=self, prefix=query.prefix, generation=self.generation
        )
        postings = self._postings
        facets = postings.facets(postings.matching({t for token in plan.tokens for t in token.alternatives}))
        scores = score(plan, postings, section=query.section)
        lexical = self._boosted(scores, query.boost_section)
        count = query.limit * CANDIDATES_PER_HIT + 10
        top = candidates(lexical, langs=self._langs, languages=plan.languages, count=count)
        pending = _Pending(query, plan=plan, facets=facets, scores=scores, top=top)
        signal = self.dense if query.dense else None
        if signal is not None and self.fusion.signals is not Signals.LEXICAL:
            if not signal.available:
                signal.scores(text, langs=(), limit=0)  # counts a lexical-only search
            elif needs_dense(self.confidence(plan, top), self.fusion):
                pending.dense_langs = (
                    (plan.script_language,) if plan.script_language else tuple(sorted(plan.languages))
                )
            else:
                DENSE_DECISIONS.labels(decision="skipped").inc()
        return pending

    def _boosted(self, scores: dict[int, float], boost: str) -> dict[int, float]:
        if not boost:
            return scores
        section_of = self._postings.section_of
        return {d: s * SECTION_BOOST if section_of(d) == boost else s for d, s in scores.items()}

    def confidence(self, plan: QueryPlan, top: list[tuple[int, float]]) -> Confidence:
        """How sure the lexical ranking `top` (best first) of `plan` is (see `fusion.needs_dense`)."""
        if not top:
            return Confidence(plan.coverage, 0.0, 0.0, False)
        best, best_score = top[0]
        root = self._root(best)
        runner_up = next((s for d, s in top[1:] if self._root(d) != root), 0.0)
        margin = best_score / runner_up if runner_up > 0 else float("inf")
        own = [t for t in plan.tokens if not t.summed]
        contains = self._postings.contains
        matched = (
            sum(1 for t in own if any(contains(term, best) for term in t.alternatives)) / len(own)
            if own
            else 0.0
        )
        languages = plan.languages
        same_script = (
            not languages or self._langs[best] in languages or bool(self._languages_of(root) & languages)
        )
        return Confidence(plan.coverage, matched, margin, same_script)

    def _finish(self, pending: _Pending) -> SearchResult:
        if pending.result is not None:
            return pending.result
        plan, scores, facets, top = pending.plan, pending.scores, pending.facets, pending.top
        assert plan is not None
        query = pending.query
        postings = self._postings
        section = query.section
        dense_only: set[int] = set()
        nearest: dict[int, float] | None = None
        if pending.dense_langs is not None and self.dense is not None:
            nearest = self.dense.scores(
                query.text, langs=pending.dense_langs, limit=self.fusion.depth, vector=pending.vector
            )
            if nearest is not None:
                DENSE_DECISIONS.labels(decision="used").inc()
                if self._answerless(pending, plan, nearest):
                    NO_ANSWER.inc()
                    return SearchResult(query=query.text, hits=(), total=0, corrections=plan.corrections)
                if section:
                    nearest = {d: s for d, s in nearest.items() if postings.section_of(d) == section}
                dense_only = nearest.keys() - scores.keys()
                fused = self._boosted(
                    fuse(scores, nearest, coverage=plan.coverage, fusion=self.fusion), query.boost_section
                )
                count = query.limit * CANDIDATES_PER_HIT + 10
                top = candidates(fused, langs=self._langs, languages=plan.languages, count=count)
        preferred = query.lang or plan.script_language
        # On fused scores only a Latin-script language is preferred: a Cyrillic query's own
        # language would win over the English-only article that answers it (measured).
        prefer = nearest is None or preferred in LATIN_LANGUAGES
        hits = tuple(self._group(top, plan=plan, lang=preferred, limit=query.limit, boost=prefer))
        if dense_only:
            # Found by meaning alone: counted too, so `total` and the facets cover every hit.
            facets = dict(facets)
            for hit in hits:
                if self._doc_ids.get(hit.id) in dense_only:
                    facets[hit.section] = facets.get(hit.section, 0) + 1
        return SearchResult(
            query=query.text,
            hits=hits,
            total=facets.get(section, 0) if section else sum(facets.values()),
            facets=facets,
            corrections=plan.corrections,
            completions=plan.completions,
        )

    def _answerless(self, pending: _Pending, plan: QueryPlan, nearest: dict[int, float]) -> bool:
        """The "no good answer" rule (`fusion.no_good_answer`) on this search's evidence."""
        if not nearest or self.dense is None or self.fusion.answer_lead is None or plan.coverage >= 1.0:
            return False
        assert pending.dense_langs is not None
        generic = self.dense.generic_similarity(
            pending.query.text, langs=pending.dense_langs, vector=pending.vector
        )
        if generic is None:
            return False
        evidence = Evidence(coverage=plan.coverage, best=max(nearest.values()), generic=generic)
        return no_good_answer(evidence, self.fusion)

    def _group(
        self, top: list[tuple[int, float]], *, plan: QueryPlan, lang: str, limit: int, boost: bool = True
    ) -> list[Hit]:
        """Language versions into one hit each. `boost`: the preferred language's articles count
        `PREFERRED_LANGUAGE_BOOST` times."""
        groups: dict[str, list[tuple[int, float]]] = {}
        for doc_id, doc_score in top:
            root = self._root(doc_id)
            members = groups.get(root)
            if members is None:
                groups[root] = [(doc_id, doc_score)]
            else:
                members.append((doc_id, doc_score))
        langs = self._langs
        ranked: list[tuple[float, str, int]] = []  # (-score, article id, document): best first
        for root, members in groups.items():
            best_score = self._group_score(root, members, plan.languages)
            chosen = self._representative(root, members, lang)
            preferred = boost and lang and langs[chosen] == lang
            boosted = best_score * (PREFERRED_LANGUAGE_BOOST if preferred else 1.0)
            ranked.append((-boosted, self._docs[chosen].head.id, chosen))
        ranked.sort()
        terms = plan.highlight_terms
        raw_word_terms = self._analyzer.raw_word_terms
        contains = self._postings.contains
        return [
            render_hit(
                self._docs[doc_id],
                -negated_score,
                terms=terms,
                contains=partial(contains, doc_id=doc_id),
                surfaces=self._surfaces,
                variants=self.variants(self._docs[doc_id].head.id),
                raw_word_terms=raw_word_terms,
            )
            for negated_score, _, doc_id in ranked[:limit]
        ]

    def _group_score(self, root: str, members: list[tuple[int, float]], languages: frozenset[str]) -> float:
        """The best score of the group's versions in the query's language when the group has one:
        matches through other-language terms only count for articles missing in that language."""
        langs = self._langs
        if len(members) == 1:
            doc_id, best = members[0]
            if not languages or langs[doc_id] in languages:
                return best
            return best * OTHER_LANGUAGE_FACTOR if self._languages_of(root) & languages else best
        best = max(member_score for _, member_score in members)
        if not languages:
            return best
        in_language = [member_score for doc_id, member_score in members if langs[doc_id] in languages]
        if in_language:
            return max(in_language)
        return best * OTHER_LANGUAGE_FACTOR if self._languages_of(root) & languages else best

    def _representative(self, root: str, members: list[tuple[int, float]], lang: str) -> int:
        if lang:
            langs = self._langs
            for doc_id, _ in members:
                if langs[doc_id] == lang:
                    return doc_id
            for article_id in self._groups.members(root):
                doc_id_or_none = self._doc_ids.get(article_id)
                if doc_id_or_none is not None and langs[doc_id_or_none] == lang:
                    return doc_id_or_none
        return members[0][0]
