"""An indexed document as the index keeps it, and the hit shown for it.

Rendering is the costly part of a hit (regex over the body, HTML escaping), so it runs only for the
hits returned, and everything that does not depend on the query (the body as plain text, its
normalised copy, the title's words and their terms) is prepared once when the article is indexed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from kb_search.domain.article import Article
from kb_search.search.normalise import normalise_text, word_spans
from kb_search.search.results import Hit, Variant
from kb_search.search.snippets import MAX_SCAN_CHARS, make_snippet, match_spans, word_hits

WordTerms = Callable[[str, str], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Document:
    article: Article
    version: int
    text: str  # the body as plain text, for snippets
    folded: str | None  # the start of `text` normalised, when that keeps every offset (for snippets)
    terms: tuple[str, ...]  # distinct terms
    words: tuple[str, ...]  # distinct surface words, for the vocabulary
    title_words: tuple[tuple[int, int, tuple[str, ...]], ...]  # (start, end, terms) in the title
    title_terms: frozenset[str]

    @classmethod
    def build(
        cls,
        article: Article,
        *,
        version: int,
        text: str,
        terms: tuple[str, ...],
        words: tuple[str, ...],
        raw_word_terms: WordTerms,
    ) -> Document:
        folded = normalise_text(text)
        lang, title = article.lang.value, article.title
        title_words = tuple(
            (start, end, raw_word_terms(title[start:end], lang)) for start, end in word_spans(title)
        )
        return cls(
            article,
            version,
            text,
            folded[:MAX_SCAN_CHARS] if len(folded) == len(text) else None,
            terms,
            words,
            title_words,
            frozenset(term for _, _, found in title_words for term in found),
        )


def render_hit(
    doc: Document,
    score: float,
    *,
    terms: frozenset[str],
    surfaces: dict[str, set[str]],
    variants: tuple[Variant, ...],
    raw_word_terms: WordTerms,
) -> Hit:
    """The hit for `doc`: its title and a snippet of its body with the words of `terms` marked.
    `surfaces` maps a term to the words seen with it: the words of the terms this document
    contains are looked for in its normalised body."""
    article = doc.article
    lang = article.lang.value
    if doc.folded is not None:
        found = terms.intersection(doc.terms)
        spans = word_hits(doc.folded, {w for term in found for w in surfaces.get(term, ())})
    else:
        spans = match_spans(doc.text, is_match=lambda word: not terms.isdisjoint(raw_word_terms(word, lang)))
    return Hit(
        id=article.id,
        slug=article.slug,
        url=article.url,
        lang=lang,
        section=article.section,
        title=article.title,
        title_highlighted=_title(doc, terms),
        snippet=make_snippet(doc.text, hits=spans),
        score=round(score, 4),
        variants=variants,
    )


def _title(doc: Document, terms: frozenset[str]) -> str:
    """The whole title with its matched words marked."""
    title = doc.article.title
    if terms.isdisjoint(doc.title_terms):
        return html.escape(title)
    out: list[str] = []
    cursor = 0
    for start, end, word_terms in doc.title_words:
        if not terms.isdisjoint(word_terms):
            out.append(html.escape(title[cursor:start]))
            out.append(f"<mark>{html.escape(title[start:end])}</mark>")
            cursor = end
    out.append(html.escape(title[cursor:]))
    return "".join(out)
