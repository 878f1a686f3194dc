"""The in-memory index of one replica, and its ranking.

Ranking is BM25 over one virtual field in which the title counts `TITLE_WEIGHT` times, tags
`TAG_WEIGHT` times and the body once (BM25F with a shared length normalisation, `postings`), over
each term's champion list (`ranking`). `total` and the section facets are exact: they count every
document containing a query term, from per-term bitsets. Language versions of one article are
grouped into one hit, and only the returned hits are rendered (`hits`).

With a dense signal (`fusion`), the lexical scores and the nearest documents by embedding are fused
before grouping; without one (or while a document has no vector yet) ranking is lexical.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import partial
from sys import intern

from prometheus_client import Counter as Metric

from kb_search.domain.article import Article
from kb_search.search.analysis import Analyzer
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
from kb_search.search.grouping import TranslationGroups
from kb_search.search.hits import Document, render_hit
from kb_search.search.normalise import Script, script
from kb_search.search.postings import Postings
from kb_search.search.query import QueryPlan, QueryPlanner
from kb_search.search.ranking import OTHER_LANGUAGE_FACTOR, candidates, score
from kb_search.search.results import EMPTY_RESULT, Hit, SearchResult, Variant
from kb_search.search.snippets import markdown_to_text
from kb_search.search.vocabulary import Vocabulary
from shared.contracts.kb import article_key

TITLE_WEIGHT = 3.0
TAG_WEIGHT = 2.0
BODY_WEIGHT = 1.0
PREFERRED_LANGUAGE_BOOST = 1.25
SECTION_BOOST = 1.2
CANDIDATES_PER_HIT = 3
LATIN_LANGUAGES = frozenset({"en", "pl"})

__all__ = ["Document", "SearchIndex"]

DENSE_DECISIONS = Metric(
    "helpdesk_kb_search_dense_total",
    "Searches by whether the dense signal was asked (used) or the lexical ranking was sure (skipped)",
    ["decision"],
)
NO_ANSWER = Metric(
    "helpdesk_kb_search_no_answer_total",
    "Searches answered with nothing: no article is clearly closer to the query than small talk",
)


@dataclass(slots=True)
class _Pending:
    """A search between its lexical half and its end: `dense_langs` set when it wants the query's
    vector (the languages its bias correction uses), `vector` once it was made off the loop."""

    text: str
    lang: str
    section: str
    limit: int
    boost: str
    result: SearchResult | None = None
    plan: QueryPlan | None = None
    facets: dict[str, int] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)
    top: list[tuple[int, float]] = field(default_factory=list)
    dense_langs: tuple[str, ...] | None = None
    vector: Vectors | None = None


class SearchIndex:
    """Live articles of one replica. Not thread-safe: one event loop feeds and queries it."""

    def __init__(
        self,
        *,
        analyzer: Analyzer,
        glossary: Glossary | None = None,
        cross_language: CrossLanguage = CrossLanguage.BOTH,
        cache_size: int = 0,
        dense: DenseSignal | None = None,
        fusion: Fusion | None = None,
    ) -> None:
        self._analyzer = analyzer
        self.dense = dense
        self.fusion = fusion or Fusion()
        self._planner = QueryPlanner(
            analyzer=analyzer, glossary=glossary or Glossary(), cross_language=cross_language
        )
        self._postings = Postings()
        self.vocabulary = Vocabulary()
        self._docs: dict[int, Document] = {}
        self._doc_ids: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._langs: list[str] = []
        self._next_doc_id = 0
        # Term → the surface words seen with it (grows only), to highlight by one regex per query.
        self._surfaces: dict[str, set[str]] = {}
        # Dropped on every change: the other versions of an article; per document its group's
        # root; per root the languages the group has.
        self._variants: dict[str, tuple[Variant, ...]] = {}
        self._roots: dict[int, str] = {}
        self._group_langs: dict[str, frozenset[str]] = {}
        self._groups = TranslationGroups()
        self._latin: list[str] | None = None
        self._cache: OrderedDict[tuple[object, ...], SearchResult] = OrderedDict()
        self._cache_size = cache_size
        self.generation = 0

    # ---- writing -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._doc_ids

    @property
    def postings(self) -> dict[str, dict[int, float]]:
        """Term → document → weighted term frequency (read-only for callers)."""
        return self._postings.tf

    def get(self, article_id: str) -> Document | None:
        doc_id = self._doc_ids.get(article_id)
        return None if doc_id is None else self._docs[doc_id]

    def resolve(self, id_or_key: str) -> Document | None:
        """An article by its id or by its key (`shared.contracts.kb.article_key`)."""
        return self.get(id_or_key) or self.get(self._keys.get(id_or_key, ""))

    def variants(self, article_id: str) -> tuple[Variant, ...]:
        """The other live language versions of an article."""
        cached = self._variants.get(article_id)
        if cached is not None:
            return cached
        out = []
        for other_id in self._groups.members(self._groups.root(article_id)):
            other = self.get(other_id)
            if other is not None and other_id != article_id:
                o = other.article
                out.append(Variant(id=o.id, lang=o.lang.value, title=o.title, slug=o.slug, url=o.url))
        found = self._variants[article_id] = tuple(sorted(out, key=lambda v: (v.lang, v.id)))
        return found

    def documents(self) -> list[Document]:
        return list(self._docs.values())

    def upsert(self, article: Article, *, version: int) -> None:
        """Index `article`, replacing its previous version if any."""
        doc_id = self._doc_ids.get(article.id)
        if doc_id is None:
            doc_id = self._next_doc_id
            self._next_doc_id += 1
            self._langs.append("")
            self._doc_ids[article.id] = doc_id
            self._keys[article_key(article.id)] = article.id
        else:
            self._unindex(doc_id)
        lang = article.lang.value
        weighted: dict[str, float] = {}
        surface: set[str] = set()
        plain = markdown_to_text(article.body)
        surfaces = self._surfaces
        for text, weight in (
            (article.title, TITLE_WEIGHT),
            (" ".join(article.tags), TAG_WEIGHT),
            (plain, BODY_WEIGHT),
        ):
            for word, terms in self._analyzer.terms(text, lang):
                new_word = word not in surface
                surface.add(word)
                for term in terms:
                    weighted[term] = weighted.get(term, 0.0) + weight
                    if new_word:
                        surfaces.setdefault(term, set()).add(word)
        self._langs[doc_id] = lang
        for word in surface:
            self.vocabulary.add(word)
        self._docs[doc_id] = Document.build(
            article,
            version=version,
            text=plain,
            # A tuple of shared strings: a frozenset and a str per document cost ~11 KiB an article.
            terms=tuple(weighted),
            words=tuple(map(intern, surface)),
            raw_word_terms=self._analyzer.raw_word_terms,
        )
        self._postings.add(doc_id, weighted, section=article.section)
        self._groups.add(article.id, article.translations)
        if self.dense is not None:
            self.dense.add(doc_id, title=article.title, text=plain, lang=lang)
        self._changed()

    def remove(self, article_id: str) -> bool:
        """Drop a retired article; False when it was not indexed."""
        doc_id = self._doc_ids.pop(article_id, None)
        if doc_id is None:
            return False
        self._keys.pop(article_key(article_id), None)
        self._unindex(doc_id)
        self._groups.remove(article_id)
        self._changed()
        return True

    def _unindex(self, doc_id: int) -> None:
        doc = self._docs.pop(doc_id)
        self._postings.remove(doc_id, doc.terms)
        if self.dense is not None:
            self.dense.discard(doc_id)
        for word in doc.words:
            self.vocabulary.discard(word)

    def _changed(self) -> None:
        self.generation += 1
        self._cache.clear()
        self._variants.clear()
        self._roots.clear()
        self._group_langs.clear()
        self._latin = None

    def prepare(self) -> None:
        """Build the per-term lists queries read (see `Postings.prepare`) and the Latin words."""
        self._postings.prepare()
        self.latin_words()

    def latin_words(self) -> list[str]:
        if self._latin is None:
            self._latin = [w for w in self.vocabulary.words() if script(w) is Script.LATIN]
        return self._latin

    # ---- reading -------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        lang: str = "",
        section: str = "",
        limit: int = 10,
        prefix: bool = True,
        boost_section: str = "",
        dense: bool = True,
    ) -> SearchResult:
        """Ranked hits; a query that needs the dense signal is embedded here, on the caller's
        thread (see `search_async` for the event loop). `dense=False`: lexical only, never the
        model (search-as-you-type: a keystroke must not cost a forward pass)."""
        key = self._cache_key(text, lang, section, limit, prefix, boost_section, dense)
        cached = self._cached(key)
        if cached is not None:
            return cached
        pending = self._begin(
            text, lang=lang, section=section, limit=limit, prefix=prefix, boost=boost_section, dense=dense
        )
        return self._remember(key, self._finish(pending))

    async def search_async(
        self,
        text: str,
        *,
        lang: str = "",
        section: str = "",
        limit: int = 10,
        prefix: bool = True,
        boost_section: str = "",
    ) -> SearchResult:
        """As `search`, for the event loop: when the query needs a vector the model has to make,
        the model runs in a worker thread and the loop serves other requests meanwhile. The index
        itself is only read and written on the loop."""
        key = self._cache_key(text, lang, section, limit, prefix, boost_section, True)
        cached = self._cached(key)
        if cached is not None:
            return cached
        begin = partial(
            self._begin, text, lang=lang, section=section, limit=limit, prefix=prefix, boost=boost_section
        )
        pending = begin()
        dense, langs = self.dense, pending.dense_langs
        if langs is not None and dense is not None and not dense.has_query_vector(text, langs):
            generation = self.generation
            vector = await dense.embed_query(text, langs)
            if self.generation != generation:  # articles changed meanwhile: plan again
                pending = begin()
            if pending.dense_langs == langs:
                pending.vector = vector
        return self._remember(key, self._finish(pending))

    def _cache_key(self, *parts: object) -> tuple[object, ...]:
        dense_generation = self.dense.generation if self.dense is not None else 0
        return (*parts, dense_generation)

    def _cached(self, key: tuple[object, ...]) -> SearchResult | None:
        cached = self._cache.get(key) if self._cache_size else None
        if cached is not None:
            self._cache.move_to_end(key)
        return cached

    def _remember(self, key: tuple[object, ...], result: SearchResult) -> SearchResult:
        if self._cache_size:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _begin(
        self, text: str, *, lang: str, section: str, limit: int, prefix: bool, boost: str, dense: bool = True
    ) -> _Pending:
        """The lexical half of a search, and whether the dense signal is wanted (`dense_langs`)."""
        if not self._docs or not text.strip():
            return _Pending(text, lang, section, limit, boost, result=EMPTY_RESULT)
        plan = self._planner.plan(text, lang=lang, view=self, prefix=prefix, generation=self.generation)
        postings = self._postings
        facets = postings.facets(postings.matching({t for token in plan.tokens for t in token.alternatives}))
        scores = score(plan, postings, section=section)
        lexical = self._boosted(scores, boost)
        count = limit * CANDIDATES_PER_HIT + 10
        top = candidates(lexical, langs=self._langs, languages=plan.languages, count=count)
        pending = _Pending(
            text, lang, section, limit, boost, plan=plan, facets=facets, scores=scores, top=top
        )
        signal = self.dense if dense else None
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
        terms = self._docs[best].terms
        matched = (
            sum(1 for t in own if not t.alternatives.keys().isdisjoint(terms)) / len(own) if own else 0.0
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
        postings = self._postings
        section = pending.section
        dense_only: set[int] = set()
        nearest: dict[int, float] | None = None
        if pending.dense_langs is not None and self.dense is not None:
            nearest = self.dense.scores(
                pending.text, langs=pending.dense_langs, limit=self.fusion.depth, vector=pending.vector
            )
            if nearest is not None:
                DENSE_DECISIONS.labels(decision="used").inc()
                if self._answerless(pending, plan, nearest):
                    NO_ANSWER.inc()
                    return SearchResult(query=pending.text, hits=(), total=0, corrections=plan.corrections)
                if section:
                    nearest = {d: s for d, s in nearest.items() if postings.section_of(d) == section}
                dense_only = nearest.keys() - scores.keys()
                fused = self._boosted(
                    fuse(scores, nearest, coverage=plan.coverage, fusion=self.fusion), pending.boost
                )
                count = pending.limit * CANDIDATES_PER_HIT + 10
                top = candidates(fused, langs=self._langs, languages=plan.languages, count=count)
        preferred = pending.lang or plan.script_language
        # On fused scores only a Latin-script language is preferred: a Cyrillic query's own
        # language would win over the English-only article that answers it (measured).
        prefer = nearest is None or preferred in LATIN_LANGUAGES
        hits = tuple(self._group(top, plan=plan, lang=preferred, limit=pending.limit, boost=prefer))
        if dense_only:
            # Found by meaning alone: counted too, so `total` and the facets cover every hit.
            facets = dict(facets)
            for hit in hits:
                if self._doc_ids.get(hit.id) in dense_only:
                    facets[hit.section] = facets.get(hit.section, 0) + 1
        return SearchResult(
            query=pending.text,
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
            pending.text, langs=pending.dense_langs, vector=pending.vector
        )
        if generic is None:
            return False
        evidence = Evidence(coverage=plan.coverage, best=max(nearest.values()), generic=generic)
        return no_good_answer(evidence, self.fusion)

    def _root(self, doc_id: int) -> str:
        root = self._roots.get(doc_id)
        if root is None:
            root = self._roots[doc_id] = self._groups.root(self._docs[doc_id].article.id)
        return root

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
            ranked.append((-boosted, self._docs[chosen].article.id, chosen))
        ranked.sort()
        terms = plan.highlight_terms
        raw_word_terms = self._analyzer.raw_word_terms
        return [
            render_hit(
                self._docs[doc_id],
                -negated_score,
                terms=terms,
                surfaces=self._surfaces,
                variants=self.variants(self._docs[doc_id].article.id),
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

    def _languages_of(self, root: str) -> frozenset[str]:
        found = self._group_langs.get(root)
        if found is None:
            doc_ids = (self._doc_ids.get(i) for i in self._groups.members(root))
            found = self._group_langs[root] = frozenset(self._langs[d] for d in doc_ids if d is not None)
        return found

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

    def browse(self, *, section: str, lang: str = "") -> list[Document]:
        """A section's live articles, one language version of each: `lang`'s where it exists, else
        every other version there is; sorted by title."""
        docs = [d for d in self._docs.values() if d.article.section == section]
        if lang:

            def shown(d: Document) -> bool:
                own = d.article.lang.value == lang
                return own or not any(v.lang == lang for v in self.variants(d.article.id))

            docs = [d for d in docs if shown(d)]
        return sorted(docs, key=lambda d: (d.article.title.casefold(), d.article.id))

    def sections(self) -> dict[str, dict[str, int]]:
        """Live article counts per section and language."""
        out: dict[str, Counter[str]] = {}
        for doc in self._docs.values():
            out.setdefault(doc.article.section, Counter())[doc.article.lang.value] += 1
        return {section: dict(sorted(counts.items())) for section, counts in sorted(out.items())}
