"""The demo knowledge base, its glossary and the relevance set are consistent with each other.

These files are data written by hand; the checks below catch the mistakes a hand-written data set
drifts into: a broken translation link, a relevance id that no longer exists, a Russian letter in a
Ukrainian article, a "cross-language" query whose target has a translation after all.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "services" / "kb-search" / "kb_search" / "demo"
ARTICLES = DEMO / "articles.jsonl"
GLOSSARY = DEMO / "glossary.json"
RELEVANCE = ROOT / "benchmarks" / "data" / "kb_relevance.jsonl"

LANGS = {"uk", "ru", "en", "pl"}
SECTIONS = {
    "bookings",
    "rooms-and-rates",
    "guests",
    "payments-and-fiscal",
    "reports",
    "users-and-rights",
    "settings",
    "integrations",
    "channel-manager",
    "housekeeping",
}
KINDS = {"exact", "word_form", "typo", "cross_language", "mixed_script", "prefix"}
REQUIRED = {"id", "lang", "section", "title", "body", "slug", "url", "tags", "translations"}

CYRILLIC = re.compile(r"[а-яёіїєґ]", re.IGNORECASE)
LATIN = re.compile(r"[a-z]", re.IGNORECASE)
ONLY_RUSSIAN = re.compile(r"[ыэъё]", re.IGNORECASE)
ONLY_UKRAINIAN = re.compile(r"[іїєґ]", re.IGNORECASE)
WORD = re.compile(r"[\w'ʼ’.-]+")
LETTER_RUN = re.compile(r"[^\W\d_]+")
APOSTROPHES = ("'", "\u02bc")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            assert line.strip(), f"{path.name}:{number} is blank"
            row = json.loads(line)
            assert isinstance(row, dict), f"{path.name}:{number} is not an object"
            rows.append(row)
    return rows


@cache
def articles() -> list[dict[str, Any]]:
    return read_jsonl(ARTICLES)


@cache
def by_id() -> dict[str, dict[str, Any]]:
    return {article["id"]: article for article in articles()}


@cache
def queries() -> list[dict[str, Any]]:
    return read_jsonl(RELEVANCE)


@cache
def glossary_terms() -> list[dict[str, Any]]:
    data = json.loads(GLOSSARY.read_text(encoding="utf-8"))
    terms = data["terms"]
    assert isinstance(terms, list)
    return terms


def words(text: str) -> list[str]:
    return [word.strip(".-") for word in WORD.findall(text.lower()) if word.strip(".-")]


def full_text(article: dict[str, Any]) -> str:
    return " ".join([article["title"], article["body"], *article["tags"]]).lower()


# --- articles -------------------------------------------------------------------------------


def test_every_article_line_has_the_agreed_fields_and_types() -> None:
    for article in articles():
        assert article.keys() >= REQUIRED, article.get("id")
        for key in ("id", "lang", "section", "title", "body", "slug", "url"):
            assert isinstance(article[key], str), (article["id"], key)
            assert article[key].strip(), (article["id"], key)
        assert isinstance(article["tags"], list), article["id"]
        assert article["tags"], article["id"]
        assert all(isinstance(tag, str) and tag for tag in article["tags"]), article["id"]
        assert isinstance(article["translations"], list), article["id"]


def test_article_ids_are_unique() -> None:
    counts = Counter(article["id"] for article in articles())
    assert [key for key, count in counts.items() if count > 1] == []


def test_ids_urls_and_slugs_follow_one_pattern() -> None:
    for article in articles():
        slug, lang = article["slug"], article["lang"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
        assert article["id"] == f"otelms-kb:{slug}-{lang}"
        assert article["url"] == f"https://help.otelms.com/{lang}/{slug}"


def test_language_and_section_are_from_the_agreed_lists() -> None:
    for article in articles():
        assert article["lang"] in LANGS, article["id"]
        assert article["section"] in SECTIONS, article["id"]


def test_bodies_are_help_centre_sized_markdown() -> None:
    for article in articles():
        count = len(article["body"].split())
        assert 80 <= count <= 300, (article["id"], count)
        assert "\n## " in "\n" + article["body"], f"{article['id']} has no heading"


def test_every_translation_exists_links_back_and_is_the_same_article() -> None:
    index = by_id()
    for article in articles():
        others = article["translations"]
        assert len(others) == len(set(others)), article["id"]
        assert article["id"] not in others
        for other_id in others:
            other = index.get(other_id)
            assert other is not None, f"{article['id']} -> missing {other_id}"
            assert article["id"] in other["translations"], f"{other_id} does not link back"
            assert other["slug"] == article["slug"]
            assert other["section"] == article["section"]
            assert other["lang"] != article["lang"]
        group = {article["id"], *others}
        for other_id in others:
            assert {other_id, *index[other_id]["translations"]} == group


def test_the_corpus_meets_the_size_targets() -> None:
    langs = Counter(article["lang"] for article in articles())
    sections = {article["section"] for article in articles()}
    english_only = [a for a in articles() if a["lang"] == "en" and not a["translations"]]
    translated = [a for a in articles() if a["translations"]]
    assert len(articles()) >= 60
    assert all(langs[lang] >= 12 for lang in LANGS), langs
    assert len(sections) >= 8, sections
    assert len(english_only) >= 8
    assert len(translated) >= len(articles()) // 2


def test_ukrainian_and_russian_articles_use_only_their_own_alphabet() -> None:
    for article in articles():
        text = article["title"] + " " + article["body"]
        if article["lang"] == "uk":
            assert not ONLY_RUSSIAN.search(text), (article["id"], ONLY_RUSSIAN.findall(text))
        if article["lang"] == "ru":
            assert not ONLY_UKRAINIAN.search(text), (article["id"], ONLY_UKRAINIAN.findall(text))


def test_no_article_word_mixes_cyrillic_and_latin_letters() -> None:
    # "Z-звіт" is a real term: a hyphen separates the scripts, only a letter run may not mix them
    for article in articles():
        for word in LETTER_RUN.findall(article["title"] + " " + article["body"]):
            assert not (CYRILLIC.search(word) and LATIN.search(word)), (article["id"], word)


def test_ukrainian_articles_contain_both_apostrophe_variants() -> None:
    ukrainian = " ".join(a["body"] for a in articles() if a["lang"] == "uk")
    for apostrophe in APOSTROPHES:
        assert re.search(rf"[а-яіїєґ]{apostrophe}[а-яіїєґ]", ukrainian), apostrophe


def test_polish_articles_use_polish_diacritics() -> None:
    for article in articles():
        if article["lang"] == "pl":
            assert re.search(r"[ąćęłńóśźż]", article["body"]), article["id"]


# --- glossary -------------------------------------------------------------------------------


def test_glossary_has_at_least_eighty_terms_in_all_four_languages() -> None:
    terms = glossary_terms()
    assert len(terms) >= 80
    for term in terms:
        assert isinstance(term["en"], str), term
        assert term["en"].strip(), term
        for lang in ("uk", "ru", "pl"):
            variants = term[lang]
            assert isinstance(variants, list), (term["en"], lang)
            assert variants, (term["en"], lang)
            assert all(isinstance(v, str) and v.strip() for v in variants), (term["en"], lang)
            assert len(variants) == len(set(variants)), (term["en"], lang)
        assert not any(ONLY_RUSSIAN.search(v) for v in term["uk"]), term["en"]
        assert not any(ONLY_UKRAINIAN.search(v) for v in term["ru"]), term["en"]


def test_glossary_english_terms_are_unique() -> None:
    counts = Counter(term["en"].lower() for term in glossary_terms())
    assert [key for key, count in counts.items() if count > 1] == []


# --- relevance set --------------------------------------------------------------------------


def test_relevance_set_meets_the_size_targets() -> None:
    rows = queries()
    langs = Counter(row["lang"] for row in rows)
    kinds = Counter(row["kind"] for row in rows)
    assert len(rows) >= 140
    assert all(langs[lang] >= 25 for lang in LANGS), langs
    assert set(kinds) == KINDS
    assert all(count >= 15 for count in kinds.values()), kinds


def test_relevance_queries_are_short_lowercase_and_unique() -> None:
    seen: set[tuple[str, str]] = set()
    for row in queries():
        assert row["lang"] in LANGS, row
        assert row["kind"] in KINDS, row
        assert row["q"] == row["q"].lower().strip(), row["q"]
        # search-as-you-type may be one fragment; everything else is a few words
        shortest = 1 if row["kind"] == "prefix" else 2
        assert shortest <= len(row["q"].split()) <= 5, row["q"]
        assert (row["q"], row["lang"]) not in seen, row["q"]
        seen.add((row["q"], row["lang"]))


def test_every_relevant_id_exists() -> None:
    index = by_id()
    for row in queries():
        assert row["relevant"], row["q"]
        assert len(row["relevant"]) == len(set(row["relevant"])), row["q"]
        missing = [rid for rid in row["relevant"] if rid not in index]
        assert missing == [], (row["q"], missing)


def test_relevant_lists_include_the_translation_in_the_query_language() -> None:
    index = by_id()
    for row in queries():
        relevant = set(row["relevant"])
        for rid in row["relevant"]:
            same_lang = [t for t in index[rid]["translations"] if index[t]["lang"] == row["lang"]]
            assert relevant.issuperset(same_lang), (row["q"], same_lang)
        if row["kind"] != "cross_language":
            assert index[row["relevant"][0]]["lang"] == row["lang"], row["q"]


def test_optional_section_matches_the_relevant_articles() -> None:
    index = by_id()
    for row in queries():
        if "section" in row:
            assert row["section"] in SECTIONS, row["q"]
            assert index[row["relevant"][0]]["section"] == row["section"], row["q"]


def test_cross_language_queries_are_ukrainian_or_russian_and_target_english_only_articles() -> None:
    index = by_id()
    rows = [row for row in queries() if row["kind"] == "cross_language"]
    assert {row["lang"] for row in rows} == {"uk", "ru"}
    for row in rows:
        assert CYRILLIC.search(row["q"]), row["q"]
        for rid in row["relevant"]:
            assert index[rid]["lang"] == "en", (row["q"], rid)
            assert index[rid]["translations"] == [], (row["q"], rid)


def test_cross_language_queries_share_a_stem_with_the_glossary() -> None:
    for row in queries():
        if row["kind"] != "cross_language":
            continue
        vocabulary = {w for term in glossary_terms() for v in term[row["lang"]] for w in words(v)}
        stems = {w[:5] for w in vocabulary if len(w) >= 5}
        assert any(w[:5] in stems for w in words(row["q"]) if len(w) >= 5), row["q"]


def test_mixed_script_queries_hide_latin_letters_inside_cyrillic_words() -> None:
    for row in queries():
        if row["kind"] == "mixed_script":
            assert row["lang"] in {"uk", "ru"}, row["q"]
            mixed = [w for w in words(row["q"]) if CYRILLIC.search(w) and LATIN.search(w)]
            assert mixed, row["q"]


def test_exact_queries_use_words_found_in_a_relevant_article() -> None:
    index = by_id()
    for row in queries():
        if row["kind"] == "exact":
            texts = [full_text(index[rid]) for rid in row["relevant"]]
            assert any(all(w in text for w in words(row["q"])) for text in texts), row["q"]


def test_typo_queries_contain_a_word_absent_from_their_target() -> None:
    index = by_id()
    for row in queries():
        if row["kind"] == "typo":
            vocabulary = set(words(full_text(index[row["relevant"][0]])))
            assert not set(words(row["q"])) <= vocabulary, row["q"]


def test_prefix_queries_are_word_beginnings_of_a_relevant_article() -> None:
    index = by_id()
    for row in queries():
        if row["kind"] == "prefix":
            vocabularies = [set(words(full_text(index[rid]))) for rid in row["relevant"]]
            assert any(
                all(any(v.startswith(w) for v in vocabulary) for w in words(row["q"]))
                for vocabulary in vocabularies
            ), row["q"]
