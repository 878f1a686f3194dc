"""Exact facets and totals past the champion lists, section-filtered ranking, candidate selection
and the snippet helpers the fast path relies on."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from kb_search.domain.article import Article
from kb_search.search.index import SearchIndex
from kb_search.search.postings import CHAMPIONS, Postings
from kb_search.search.ranking import OTHER_LANGUAGE_FACTOR, candidates
from kb_search.search.snippets import MAX_SCAN_CHARS, make_snippet, markdown_to_text, word_hits

pytestmark = pytest.mark.unit


def article(number: int, section: str, title: str, body: str) -> dict[str, Any]:
    return {"id": f"a{number}", "lang": "en", "section": section, "title": title, "body": body}


@pytest.fixture
def crowded(make_index: Callable[..., SearchIndex]) -> SearchIndex:
    """More articles with one word than a champion list holds: the reports ones match it best."""
    reports = [
        article(i, "reports", f"Audit audit report {i}", "The audit totals.") for i in range(CHAMPIONS + 22)
    ]
    settings = [
        article(1000 + i, "settings", f"Printer setup {i}", "Printers, paper and an audit trail.")
        for i in range(50)
    ]
    return make_index(reports + settings)


def test_total_and_facets_count_every_matching_article_not_only_the_best_ranked(
    crowded: SearchIndex,
) -> None:
    result = crowded.search("audit", lang="en")
    assert result.total == CHAMPIONS + 22 + 50
    assert result.facets == {"reports": CHAMPIONS + 22, "settings": 50}


def test_a_section_filter_ranks_that_sections_articles_even_outside_the_overall_best(
    crowded: SearchIndex,
) -> None:
    result = crowded.search("audit", lang="en", section="settings", limit=10)
    assert len(result.hits) == 10
    assert {hit.section for hit in result.hits} == {"settings"}
    assert result.total == 50
    assert result.facets == {"reports": CHAMPIONS + 22, "settings": 50}


def test_a_retired_or_changed_article_leaves_the_counts(crowded: SearchIndex) -> None:
    crowded.remove("a1000")
    crowded.upsert(Article.from_mapping(article(1001, "settings", "Printer setup", "Paper only.")), version=2)
    assert crowded.search("audit", lang="en").facets == {"reports": CHAMPIONS + 22, "settings": 48}


def test_facets_leave_out_sections_without_a_match(index: SearchIndex) -> None:
    result = index.search("night audit", lang="en")
    assert result.facets == {"reports": 1}
    assert result.total == 1


def test_candidates_are_the_best_adjusted_scores_ties_to_the_higher_raw_score_then_scoring_order() -> None:
    rng = random.Random(5)
    langs = [rng.choice(["en", "uk", "ru", "pl"]) for _ in range(400)]
    for _ in range(200):
        doc_ids = rng.sample(range(400), rng.randint(0, 300))
        scores = {d: float(rng.randint(1, 12)) for d in doc_ids}  # many ties on purpose
        languages = frozenset(rng.sample(["en", "uk", "ru", "pl"], rng.randint(0, 2)))
        count = rng.randint(1, 60)

        def adjusted(item: tuple[int, float], languages: frozenset[str] = languages) -> float:
            if not languages or langs[item[0]] in languages:
                return item[1]
            return item[1] * OTHER_LANGUAGE_FACTOR

        by_raw = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        expected = sorted(by_raw, key=adjusted, reverse=True)[:count]
        assert candidates(scores, langs=langs, languages=languages, count=count) == expected


def test_word_hits_finds_whole_words_only_and_prefers_the_longer_at_one_start() -> None:
    text = "audit audits preaudit audit-trail об'єднання"
    spans = word_hits(text, {"audit", "audits", "об", "об'єднання", "trail"})
    assert [text[start:end] for start, end in spans] == ["audit", "audits", "audit", "trail", "об'єднання"]


def test_word_hits_reads_only_the_start_of_a_long_text() -> None:
    text = "x " * (MAX_SCAN_CHARS // 2) + "audit"
    assert word_hits(text, {"audit"}) == []
    assert word_hits("audit " + text, {"audit"}) == [(0, 5)]


def test_a_snippet_marks_the_hits_and_escapes_everything_else() -> None:
    text = 'Use <b> & "quotes" for the audit; then audit again.'
    first, second = text.index("audit"), text.rindex("audit")
    assert make_snippet(text, hits=[(first, first + 5), (second, second + 5)]) == (
        "Use &lt;b&gt; &amp; &quot;quotes&quot; for the <mark>audit</mark>; then <mark>audit</mark> again."
    )


def test_the_characters_that_stand_for_marks_cannot_come_from_an_article() -> None:
    plain = markdown_to_text("audit \ue000x\ue001 trail")
    assert plain == "audit x trail"
    assert make_snippet(plain, hits=[(0, 5)]) == "<mark>audit</mark> x trail"


def test_plain_text_has_every_run_of_whitespace_as_one_space_and_none_at_the_ends() -> None:
    spaces = [chr(c) for c in range(0x3001) if re.fullmatch(r"\s", chr(c))]
    assert len(spaces) > 20  # tab, newline, no-break space, line separator, ideographic space …
    for space in spaces:
        text = f"{space}audit{space}trail{space * 3}night \u200bzero-width{space}"
        assert markdown_to_text(text) == "audit trail night \u200bzero-width", hex(ord(space))


def test_champion_lists_and_bitsets_match_their_plain_definitions() -> None:
    rng = random.Random(11)
    postings = Postings()
    for doc_id in range(600):
        terms = {f"t{rng.randint(0, 5)}": float(rng.randint(1, 4)) for _ in range(rng.randint(1, 4))}
        postings.add(doc_id, terms, section=rng.choice(["reports", "settings"]))
    for doc_id in range(0, 600, 7):
        postings.remove(doc_id, frozenset(postings_terms(postings, doc_id)))
    for term in postings.docs:
        assert postings.bits(term) == sum(1 << d for d in postings.docs[term])
        for section in ("", "settings"):
            docs, impacts = postings.champions(term, section)
            assert list(zip(docs, impacts, strict=True)) == plain_champions(postings, term, section)


def test_a_term_with_few_postings_keeps_no_bitset_or_champion_list_and_answers_the_same() -> None:
    rng = random.Random(5)
    postings = Postings()
    for doc_id in range(400):
        terms = {"common": float(rng.randint(1, 4)), f"rare{doc_id % 50}": float(rng.randint(1, 9))}
        postings.add(doc_id, terms, section=rng.choice(["reports", "settings"]))
    for doc_id in range(0, 400, 9):
        postings.remove(doc_id, frozenset(postings_terms(postings, doc_id)))
    postings.prepare()
    rare = [term for term, docs in postings.docs.items() if len(docs) <= CHAMPIONS]
    assert len(rare) == 50 and len(postings.docs["common"]) > CHAMPIONS
    for term in (*rare, "common"):
        plain = sum(1 << d for d in postings.docs[term])
        assert postings.bits(term) == plain
        assert [postings.contains(term, d) for d in range(401)] == [bool(plain >> d & 1) for d in range(401)]
        for section in ("", "reports"):
            docs, impacts = postings.champions(term, section)
            assert list(zip(docs, impacts, strict=True)) == plain_champions(postings, term, section)
    assert postings.matching({"rare1", "rare2", "common"}) == postings.bits("common")
    assert postings.matching({"rare1", "rare7"}) == postings.bits("rare1") | postings.bits("rare7")
    assert set(postings._bits) == set(postings._champions) == {"common"}


def test_a_tf_above_16_bits_is_kept_exactly_and_scores_as_the_same_float() -> None:
    postings = Postings()
    tfs = {0: 3.0, 1: 65_535.0, 2: 70_001.0, 3: 1.0, 4: 2_000_000.0}
    for doc_id, tf in tfs.items():
        postings.add(doc_id, {"audit": tf, f"other{doc_id}": 1.0}, section="reports")
    postings.remove(3, ["audit", "other3"])
    norms = {d: postings._norms[d] for d in tfs}
    for doc_id, tf in tfs.items():
        assert postings.impact("audit", doc_id) == (0.0 if doc_id == 3 else tf / (tf + norms[doc_id]))
        assert postings.impact(f"other{doc_id}", doc_id) == (
            0.0 if doc_id == 3 else 1.0 / (1.0 + norms[doc_id])
        )
    assert postings._tfs["audit"].typecode == "f" and postings._tfs["other0"].typecode == "H"


def plain_champions(postings: Postings, term: str, section: str) -> list[tuple[int, float]]:
    """A champion list by its definition: the best `CHAMPIONS` impacts, ties in posting order."""
    pairs = [
        (d, postings.impact(term, d))
        for d in postings.docs[term]
        if not section or postings.section_of(d) == section
    ]
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)[:CHAMPIONS]


def postings_terms(postings: Postings, doc_id: int) -> list[str]:
    return [term for term, docs in postings.docs.items() if doc_id in docs]


def test_prepared_term_lists_answer_alike_and_still_follow_changes(crowded: SearchIndex) -> None:
    before = crowded.search("audit printer", lang="en", limit=20)
    crowded.prepare()
    assert crowded.search("audit printer", lang="en", limit=20) == before
    crowded.upsert(Article.from_mapping(article(1002, "settings", "Audit audit audit", "Audit.")), version=2)
    after = crowded.search("audit", lang="en", section="settings")
    assert after.hits[0].id == "a1002"
    assert after.total == 50
