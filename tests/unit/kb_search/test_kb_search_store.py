"""What the index keeps per document: the article without its body and the body compressed, no
copy of its terms or words (retiring an article analyses it again)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kb_search.domain.article import Article
from kb_search.search.index import SearchIndex
from tests.unit.kb_search.conftest import ARTICLES

pytestmark = pytest.mark.unit

AUDIT_UPDATED = {
    **next(a for a in ARTICLES if a["id"] == "kb:audit-en"),
    "body": "Closing the **day** at midnight: print the shift report, then lock the till.",
    "tags": ["shift", "midnight"],
}


def _shape(index: SearchIndex) -> tuple[dict[str, int], dict[str, int]]:
    """Every vocabulary word with its count, every term with its document count."""
    vocabulary = {word: index.vocabulary.count(word) for word in index.vocabulary.words()}
    return vocabulary, {term: len(docs) for term, docs in index.postings.items()}


def test_a_document_gives_back_the_whole_article_it_was_indexed_from(index: SearchIndex) -> None:
    for raw in ARTICLES:
        article = Article.from_mapping(raw)
        doc = index.get(article.id)
        assert doc is not None
        assert doc.article == article
        assert doc.body == article.body
        assert doc.head == Article.from_mapping({**raw, "body": ""})


def test_updating_and_retiring_leave_no_word_or_term_of_the_old_versions(
    make_index: Callable[..., SearchIndex],
) -> None:
    index = make_index()
    index.upsert(Article.from_mapping(AUDIT_UPDATED), version=2)
    assert index.remove("kb:cleaning-uk")
    kept = [a for a in ARTICLES if a["id"] != "kb:cleaning-uk"]
    final = [AUDIT_UPDATED if a["id"] == "kb:audit-en" else a for a in kept]
    fresh = make_index(final)
    assert _shape(index) == _shape(fresh)
    assert "charges" not in index.vocabulary and "midnight" in index.vocabulary
    for article_id in ("kb:audit-en", "kb:cleaning-uk"):
        assert index.remove(article_id) == (article_id != "kb:cleaning-uk")
    fresh.remove("kb:audit-en")
    assert _shape(index) == _shape(fresh)


def test_a_hit_marks_only_the_words_of_terms_its_own_article_contains(
    make_index: Callable[..., SearchIndex],
) -> None:
    index = make_index()
    index.upsert(Article.from_mapping(AUDIT_UPDATED), version=2)
    hit = next(h for h in index.search("midnight report", lang="en").hits if h.id == "kb:audit-en")
    assert "<mark>midnight</mark>" in hit.snippet and "<mark>report</mark>" in hit.snippet
    assert "<mark>day</mark>" not in hit.snippet
