"""An indexed document as the index keeps it, and the hit shown for it.

Rendering is the costly part of a hit (regex over the body, HTML escaping), so it runs only for the
hits returned. The body as plain text and its normalised copy are derived from the article when a
hit is rendered (and kept for the last `RENDERED_BODIES` bodies: two copies of every body cost ~3
KiB an article), and so are the title's words and their terms.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from kb_search.domain.article import Article
from kb_search.search.normalise import normalise_text, word_spans
from kb_search.search.results import Hit, Variant
from kb_search.search.snippets import MAX_SCAN_CHARS, make_snippet, markdown_to_text, match_spans, word_hits

WordTerms = Callable[[str, str], tuple[str, ...]]
RENDERED_BODIES = 128


@lru_cache(maxsize=RENDERED_BODIES)
def snippet_source(body: str) -> tuple[str, str | None]:
    """A Markdown body as plain text, for snippets, and the start of that text normalised when
    normalising keeps every offset (else None: matches are then found word by word)."""
    text = markdown_to_text(body)
    folded = normalise_text(text)
    return text, folded[:MAX_SCAN_CHARS] if len(folded) == len(text) else None


@dataclass(frozen=True, slots=True)
class Document:
    article: Article
    version: int
    terms: tuple[str, ...]  # distinct terms
    words: tuple[str, ...]  # distinct surface words, for the vocabulary


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
    text, folded = snippet_source(article.body)
    if folded is not None:
        found = terms.intersection(doc.terms)
        spans = word_hits(folded, {w for term in found for w in surfaces.get(term, ())})
    else:
        spans = match_spans(text, is_match=lambda word: not terms.isdisjoint(raw_word_terms(word, lang)))
    return Hit(
        id=article.id,
        slug=article.slug,
        url=article.url,
        lang=lang,
        section=article.section,
        title=article.title,
        title_highlighted=_title(article, terms, raw_word_terms),
        snippet=make_snippet(text, hits=spans),
        score=round(score, 4),
        variants=variants,
    )


def _title(article: Article, terms: frozenset[str], raw_word_terms: WordTerms) -> str:
    """The whole title with its matched words marked (its words' terms come from the analyser's
    cache: a copy per document cost ~0.9 KiB an article)."""
    title, lang = article.title, article.lang.value
    out: list[str] = []
    cursor = 0
    for start, end in word_spans(title):
        if not terms.isdisjoint(raw_word_terms(title[start:end], lang)):
            out.append(html.escape(title[cursor:start]))
            out.append(f"<mark>{html.escape(title[start:end])}</mark>")
            cursor = end
    out.append(html.escape(title[cursor:]))
    return "".join(out)
