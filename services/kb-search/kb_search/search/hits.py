"""An indexed document as the index keeps it, and the hit shown for it.

A document keeps its article without the body (`head`: what listings, grouping and hits read) and
where its body is in the replica's body file (`bodies.BodyFile`: compressed, on disk): ranking never
reads the body, so it is read only for a rendered hit or a whole article (`body`, `article`, ~10 µs).
Its terms and surface words are not kept: the postings' bitsets say which terms it contains, and
retiring it analyses its text again (the analyser is deterministic and cached).

Rendering is the costly part of a hit (regex over the body, HTML escaping), so it runs only for the
hits returned. The body as plain text and its normalised copy are derived from the article when a
hit is rendered (and kept for the last `RENDERED_BODIES` bodies: two copies of every body cost ~3
KiB an article), and so are the title's words and their terms.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from functools import lru_cache
from sys import intern

from kb_search.domain.article import Article
from kb_search.search.bodies import BodyFile
from kb_search.search.normalise import normalise_text, word_spans
from kb_search.search.results import Hit, Variant
from kb_search.search.snippets import MAX_SCAN_CHARS, make_snippet, markdown_to_text, match_spans, word_hits

WordTerms = Callable[[str, str], tuple[str, ...]]
RENDERED_BODIES = 128
NO_BODY = -1


@lru_cache(maxsize=RENDERED_BODIES)
def snippet_source(body: str) -> tuple[str, str | None]:
    """A Markdown body as plain text, for snippets, and the start of that text normalised when
    normalising keeps every offset (else None: matches are then found word by word)."""
    text = markdown_to_text(body)
    folded = normalise_text(text)
    return text, folded[:MAX_SCAN_CHARS] if len(folded) == len(text) else None


class Document:
    """One indexed article version: `head` (the article with an empty body), `version`, and its
    body's entry in the body file. The body is readable until the document is `discard`ed (replaced
    by another version or retired: the store does it)."""

    __slots__ = ("_bodies", "_entry", "head", "version")

    def __init__(self, article: Article, version: int, *, bodies: BodyFile) -> None:
        # Ids interned: an article's id is also in its translations' `translations` (one string,
        # not one per mention: ~0.2 KiB an article with three other language versions).
        self.head = replace(
            article, body="", id=intern(article.id), translations=tuple(map(intern, article.translations))
        )
        self.version = version
        self._bodies = bodies
        self._entry = bodies.put(article.body) if article.body else NO_BODY

    @property
    def body(self) -> str:
        return self._bodies.get(self._entry) if self._entry != NO_BODY else ""

    @property
    def article(self) -> Article:
        """The whole article, body included (rebuilt: read `head` when the body is not needed)."""
        return replace(self.head, body=self.body) if self._entry != NO_BODY else self.head

    def discard(self) -> None:
        """Its body is not needed any more: the body file may reuse its place."""
        if self._entry != NO_BODY:
            self._bodies.drop(self._entry)
            self._entry = NO_BODY


def render_hit(
    doc: Document,
    score: float,
    *,
    terms: frozenset[str],
    contains: Callable[[str], bool],
    surfaces: Mapping[str, Collection[str]],
    variants: tuple[Variant, ...],
    raw_word_terms: WordTerms,
) -> Hit:
    """The hit for `doc`: its title and a snippet of its body with the words of `terms` marked.
    `contains` says whether the document contains a term; `surfaces` maps a term to the words seen
    with it: the words of the terms this document contains are looked for in its normalised body."""
    article = doc.head
    lang = article.lang.value
    text, folded = snippet_source(doc.body)
    if folded is not None:
        found = [term for term in terms if contains(term)]
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
