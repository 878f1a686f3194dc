"""The in-memory inverted index of one replica, and its ranking.

Ranking is BM25 over one virtual field in which the title counts `TITLE_WEIGHT` times, tags
`TAG_WEIGHT` times and the body once (BM25F with a shared length normalisation). Postings hold the
weighted term frequency; each document's length norm is kept in a list and recomputed in one pass
when the average length drifts by more than `RENORMALISE_DRIFT`, so a posting costs one division
at query time and an update never rewrites other documents' postings.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from operator import itemgetter

from kb_search.domain.article import Article
from kb_search.search.analysis import Analyzer
from kb_search.search.crosslang import CrossLanguage, Glossary
from kb_search.search.grouping import TranslationGroups
from kb_search.search.normalise import Script, normalise_text, script
from kb_search.search.query import QueryPlan, QueryPlanner
from kb_search.search.results import EMPTY_RESULT, Hit, SearchResult, Variant
from kb_search.search.snippets import (
    highlight,
    make_snippet,
    markdown_to_text,
    match_spans,
    pattern_spans,
    words_pattern,
)
from kb_search.search.vocabulary import Vocabulary
from shared.contracts.kb import article_key

TITLE_WEIGHT = 3.0
TAG_WEIGHT = 2.0
BODY_WEIGHT = 1.0
K1 = 1.2
B = 0.75
RENORMALISE_DRIFT = 0.1
PREFERRED_LANGUAGE_BOOST = 1.25
SECTION_BOOST = 1.2
CANDIDATES_PER_HIT = 3
OTHER_LANGUAGE_FACTOR = 0.5
CHAMPIONS = 128


@dataclass(frozen=True, slots=True)
class Document:
    article: Article
    version: int
    text: str  # the body as plain text, for snippets
    folded: str | None  # `text` normalised, when that keeps every offset (fast highlighting)
    terms: frozenset[str]
    words: tuple[str, ...]  # distinct surface words, for the vocabulary


class SearchIndex:
    """Live articles of one replica. Not thread-safe: one event loop feeds and queries it."""

    def __init__(
        self,
        *,
        analyzer: Analyzer,
        glossary: Glossary | None = None,
        cross_language: CrossLanguage = CrossLanguage.BOTH,
        cache_size: int = 0,
    ) -> None:
        self._analyzer = analyzer
        self._planner = QueryPlanner(
            analyzer=analyzer, glossary=glossary or Glossary(), cross_language=cross_language
        )
        self.postings: dict[str, dict[int, float]] = {}
        self.vocabulary = Vocabulary()
        self._docs: dict[int, Document] = {}
        self._doc_ids: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._lengths: dict[int, float] = {}
        self._norms: list[float] = []
        self._sections: list[str] = []
        self._langs: list[str] = []
        # Per term: its postings as (doc, saturated tf) with the highest first, at most CHAMPIONS;
        # built when a query first needs it, dropped when the term's postings or the norms change.
        self._champions: dict[str, list[tuple[int, float]]] = {}
        # Term → the surface words seen with it (grows only), to highlight by one regex per query.
        self._surfaces: dict[str, set[str]] = {}
        self._variants: dict[str, tuple[Variant, ...]] = {}  # dropped on every change
        self._total_length = 0.0
        self._norm_average = 0.0
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
            doc_id = len(self._norms)
            self._norms.append(1.0)
            self._sections.append(article.section.value)
            self._langs.append(article.lang.value)
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
        self._sections[doc_id] = article.section.value
        self._langs[doc_id] = article.lang.value
        champions = self._champions
        for term, tf in weighted.items():
            self.postings.setdefault(term, {})[doc_id] = tf
            champions.pop(term, None)
        for word in surface:
            self.vocabulary.add(word)
        length = float(sum(weighted.values())) or 1.0
        self._lengths[doc_id] = length
        self._total_length += length
        folded = normalise_text(plain)
        self._docs[doc_id] = Document(
            article,
            version,
            plain,
            folded if len(folded) == len(plain) else None,
            frozenset(weighted),
            tuple(surface),
        )
        self._groups.add(article.id, article.translations)
        self._norms[doc_id] = self._norm(length)
        self._changed(new_words=True)

    def remove(self, article_id: str) -> bool:
        """Drop a retired article; False when it was not indexed."""
        doc_id = self._doc_ids.pop(article_id, None)
        if doc_id is None:
            return False
        self._keys.pop(article_key(article_id), None)
        self._unindex(doc_id)
        self._groups.remove(article_id)
        self._changed(new_words=True)
        return True

    def _unindex(self, doc_id: int) -> None:
        doc = self._docs.pop(doc_id)
        for term in doc.terms:
            self._champions.pop(term, None)
            posting = self.postings[term]
            del posting[doc_id]
            if not posting:
                del self.postings[term]
        for word in doc.words:
            self.vocabulary.discard(word)
        self._total_length -= self._lengths.pop(doc_id)

    def _norm(self, length: float) -> float:
        average = self._total_length / len(self._docs)
        if abs(average - self._norm_average) > RENORMALISE_DRIFT * self._norm_average:
            self._norm_average = average
            self._champions.clear()
            for doc_id, doc_length in self._lengths.items():
                self._norms[doc_id] = K1 * (1 - B + B * doc_length / average)
        return K1 * (1 - B + B * length / self._norm_average)

    def _changed(self, *, new_words: bool) -> None:
        self.generation += 1
        self._cache.clear()
        self._variants.clear()
        if new_words:
            self._latin = None

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
    ) -> SearchResult:
        key = (text, lang, section, limit, prefix, boost_section)
        cached = self._cache.get(key) if self._cache_size else None
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        result = self._search(
            text, lang=lang, section=section, limit=limit, prefix=prefix, boost=boost_section
        )
        if self._cache_size:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _search(
        self, text: str, *, lang: str, section: str, limit: int, prefix: bool, boost: str
    ) -> SearchResult:
        if not self._docs or not text.strip():
            return EMPTY_RESULT
        plan = self._planner.plan(text, lang=lang, view=self, prefix=prefix, generation=self.generation)
        scores = self._score(plan)
        sections = self._sections
        facets = Counter(map(sections.__getitem__, scores))
        total = facets[section] if section else len(scores)
        if section:
            scores = {d: s for d, s in scores.items() if sections[d] == section}
        if boost:
            for d in scores:
                if sections[d] == boost:
                    scores[d] *= SECTION_BOOST
        top = self._candidates(scores, plan.languages, limit * CANDIDATES_PER_HIT + 10)
        hits = self._group(top, plan=plan, lang=lang, limit=limit)
        return SearchResult(
            query=text,
            hits=tuple(hits),
            total=total,
            facets=dict(sorted(facets.items())),
            corrections=plan.corrections,
            completions=plan.completions,
        )

    def _impacts(self, term: str) -> list[tuple[int, float]]:
        """The term's best postings with their saturated tf, best first (a champion list)."""
        found = self._champions.get(term)
        if found is None:
            norms = self._norms
            pairs = [(d, tf / (tf + norms[d])) for d, tf in self.postings[term].items()]
            if len(pairs) > CHAMPIONS:
                pairs = heapq.nlargest(CHAMPIONS, pairs, key=itemgetter(1))
            found = self._champions[term] = pairs
        return found

    def _score(self, plan: QueryPlan) -> dict[int, float]:
        """BM25 over each term's champion list: a document outside the top `CHAMPIONS` of every
        query term is not ranked (it would rank low anyway), which bounds a query's work."""
        n_docs = len(self._docs)
        scores: dict[int, float] = {}
        get = scores.get
        for token in plan.tokens:
            if len(token.alternatives) == 1 or token.summed:
                for term, weight in token.alternatives.items():
                    factor = weight * _idf(n_docs, len(self.postings[term]))
                    for d, impact in self._impacts(term):
                        scores[d] = get(d, 0.0) + factor * impact
                continue
            best: dict[int, float] = {}
            best_get = best.get
            for term, weight in token.alternatives.items():
                factor = weight * _idf(n_docs, len(self.postings[term]))
                for d, impact in self._impacts(term):
                    value = factor * impact
                    if value > best_get(d, 0.0):
                        best[d] = value
            for d, value in best.items():
                scores[d] = get(d, 0.0) + value
        return scores

    def _candidates(
        self, scores: dict[int, float], languages: frozenset[str], count: int
    ) -> list[tuple[int, float]]:
        """The best documents to group, versions in the query's language first in line: without
        that, other-language versions matched through the glossary crowd out the direct matches."""
        if not languages:
            return heapq.nlargest(count, scores.items(), key=itemgetter(1))
        langs = self._langs

        def key(item: tuple[int, float]) -> float:
            return item[1] if langs[item[0]] in languages else item[1] * OTHER_LANGUAGE_FACTOR

        return heapq.nlargest(count, scores.items(), key=key)

    def _group(self, top: list[tuple[int, float]], *, plan: QueryPlan, lang: str, limit: int) -> list[Hit]:
        groups: dict[str, list[tuple[int, float]]] = {}
        for doc_id, score in top:
            root = self._groups.root(self._docs[doc_id].article.id)
            groups.setdefault(root, []).append((doc_id, score))
        ranked: list[tuple[float, str, int, float]] = []
        for root, members in groups.items():
            best_score = self._group_score(root, members, plan.languages)
            chosen = self._representative(root, members, lang)
            boosted = best_score * (PREFERRED_LANGUAGE_BOOST if lang and self._lang(chosen) == lang else 1.0)
            ranked.append((boosted, self._docs[chosen].article.id, chosen, best_score))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        pattern = words_pattern(frozenset(w for t in plan.highlight_terms for w in self._surfaces.get(t, ())))
        return [
            self._hit(doc_id, score, plan=plan, pattern=pattern) for score, _, doc_id, _ in ranked[:limit]
        ]

    def _group_score(self, root: str, members: list[tuple[int, float]], languages: frozenset[str]) -> float:
        """The best score of the group's versions in the query's language when the group has one:
        matches through other-language terms only count for articles missing in that language."""
        best = max(score for _, score in members)
        if not languages or (len(members) == 1 and len(self._groups.members(root)) == 1):
            return best
        in_language = [score for doc_id, score in members if self._lang(doc_id) in languages]
        if in_language:
            return max(in_language)
        group_languages = {
            self._langs[d] for i in self._groups.members(root) if (d := self._doc_ids.get(i)) is not None
        }
        return best * OTHER_LANGUAGE_FACTOR if group_languages & languages else best

    def _representative(self, root: str, members: list[tuple[int, float]], lang: str) -> int:
        if lang:
            for doc_id, _ in members:
                if self._lang(doc_id) == lang:
                    return doc_id
            for article_id in self._groups.members(root):
                doc_id_or_none = self._doc_ids.get(article_id)
                if doc_id_or_none is not None and self._lang(doc_id_or_none) == lang:
                    return doc_id_or_none
        return members[0][0]

    def _lang(self, doc_id: int) -> str:
        return self._langs[doc_id]

    def _hit(self, doc_id: int, score: float, *, plan: QueryPlan, pattern: re.Pattern[str] | None) -> Hit:
        doc = self._docs[doc_id]
        article = doc.article
        lang = article.lang.value
        terms = plan.highlight_terms
        raw_word_terms = self._analyzer.raw_word_terms

        def is_match(word: str) -> bool:
            return not terms.isdisjoint(raw_word_terms(word, lang))

        if doc.folded is not None:
            spans = pattern_spans(doc.folded, pattern)
        else:
            spans = match_spans(doc.text, is_match=is_match)
        snippet = make_snippet(doc.text, hits=spans)
        return Hit(
            id=article.id,
            slug=article.slug,
            url=article.url,
            lang=lang,
            section=article.section.value,
            title=article.title,
            title_highlighted=highlight(article.title, is_match=is_match),
            snippet=snippet,
            score=round(score, 4),
            variants=self.variants(article.id),
        )

    def sections(self) -> dict[str, dict[str, int]]:
        """Live article counts per section and language."""
        out: dict[str, Counter[str]] = {}
        for doc in self._docs.values():
            out.setdefault(doc.article.section.value, Counter())[doc.article.lang.value] += 1
        return {section: dict(sorted(counts.items())) for section, counts in sorted(out.items())}


def _idf(n_docs: int, df: int) -> float:
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
