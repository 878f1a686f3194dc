"""Normalisation and morphology, per language."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb_search.search import normalise, stemmers
from kb_search.search.analysis import Analyzer
from kb_search.search.normalise import POLISH_LETTERS, fix_mixed_script, normalise_text, transliterate, words
from kb_search.settings import DEMO_DIR

pytestmark = pytest.mark.unit


def terms(analyzer: Analyzer, text: str, lang: str = "") -> list[tuple[str, ...]]:
    return [found for _, found in analyzer.terms(text, lang)]


def test_yo_is_read_as_ye() -> None:
    assert normalise_text("Отчёт") == "отчет"


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "`", "‘"])
def test_every_apostrophe_variant_is_the_same_word(apostrophe: str) -> None:
    assert words(f"об{apostrophe}єднання") == ["об'єднання"]


def test_stress_marks_on_cyrillic_vowels_are_dropped_but_polish_accents_kept() -> None:
    assert words("бронюва\u0301ння płatność") == ["бронювання", "płatność"]


def test_latin_look_alikes_inside_a_cyrillic_word_become_cyrillic() -> None:
    assert fix_mixed_script("брoнювання") == "бронювання"  # Latin o
    assert fix_mixed_script("ПPOЖИВAННЯ".lower()) == "проживання"


def test_cyrillic_look_alikes_inside_a_latin_word_become_latin() -> None:
    assert fix_mixed_script("bооking") == "booking"  # Cyrillic о о


def test_a_word_with_letters_that_have_no_look_alike_is_left_alone() -> None:
    assert fix_mixed_script("wiфi") == "wiфi"


def test_quotes_stars_and_operators_only_separate_words() -> None:
    assert words('"night" * NEAR(audit) OR 1=1; --') == ["night", "near", "audit", "or", "1", "1"]


def test_words_are_found_as_the_word_pattern_finds_them() -> None:
    """The faster search (`_find_words`) gives `_WORD`'s words on texts with and without `_` and
    apostrophes, digits and letters of every script."""
    texts = [
        "night_audit report's total_ 'quoted' rock'n'roll_x '' a'_b _'c' об'єднання",
        "zażółć 2024-12-07 ١٢٣ 日本語_テキスト ǅemal Ⅻ x²",
        "no apostrophe here, under_scores__only_",
        "plain words only",
        "",
        "'_'",
    ]
    texts.append("".join(chr(c) for c in range(0x3000)) + "'x'_'y")
    for text in texts:
        assert normalise._find_words(text) == normalise._WORD.findall(text)


def test_transliteration_spells_loanwords_in_latin_letters() -> None:
    assert transliterate("інвойс") == "invois"


def test_ukrainian_word_forms_share_a_lemma(analyzer: Analyzer) -> None:
    assert terms(analyzer, "звітів звіти звіт", "uk") == [("звіт",), ("звіт",), ("звіт",)]
    assert terms(analyzer, "бронювання бронюванням", "uk")[0] == terms(analyzer, "бронюванням", "uk")[0]


def test_russian_word_forms_share_a_lemma_and_yo_is_folded(analyzer: Analyzer) -> None:
    assert terms(analyzer, "отчёты отчетов отчет", "ru") == [("отчет",), ("отчет",), ("отчет",)]


def test_english_words_are_stemmed(analyzer: Analyzer) -> None:
    assert terms(analyzer, "bookings booked booking", "en") == [("book",), ("book",), ("book",)]


def test_polish_words_are_stemmed_and_diacritics_folded(analyzer: Analyzer) -> None:
    with_marks = terms(analyzer, "płatności", "pl")
    assert with_marks == terms(analyzer, "platnosci", "pl")
    assert with_marks == terms(analyzer, "płatność", "pl")


def test_ukrainian_letters_route_a_word_to_the_ukrainian_dictionary(analyzer: Analyzer) -> None:
    # `гостям` is known to both dictionaries; with `і` in the word only Ukrainian applies.
    assert terms(analyzer, "гість") == [("гість",)]
    assert terms(analyzer, "гостям", "uk") == [("гість",)]
    assert terms(analyzer, "гостям", "ru") == [("гость",)]


def test_russian_letters_route_a_word_to_the_russian_dictionary(analyzer: Analyzer) -> None:
    assert terms(analyzer, "выселение", "uk") == [("выселение",)]


def test_a_word_without_telltale_letters_and_no_hint_keeps_both_readings(analyzer: Analyzer) -> None:
    assert set(terms(analyzer, "оплати")[0]) == {"оплата", "оплатить"}


def test_stop_words_are_not_terms(analyzer: Analyzer) -> None:
    assert terms(analyzer, "як і де the of w na", "") == []


def latin_words_of_every_corpus() -> set[str]:
    """Every Latin word of the demo and wiki articles and of the relevance queries."""
    root = Path(__file__).resolve().parents[3]
    found: set[str] = set()
    for path in (
        DEMO_DIR / "articles.jsonl",
        root / "benchmarks" / "data" / "kb_wiki_articles.jsonl",
        root / "benchmarks" / "data" / "kb_wiki_relevance.jsonl",
    ):
        for line in path.read_text(encoding="utf-8").splitlines():
            found.update(
                w
                for w in words(" ".join(map(str, json.loads(line).values())))
                if w.isascii() or set(w) & POLISH_LETTERS
            )
    return found


def test_english_and_polish_words_stem_as_the_snowball_package_stems_them() -> None:
    import snowballstemmer

    latin = latin_words_of_every_corpus()
    assert len(latin) > 1000
    for language in ("english", "polish"):
        ours, theirs = stemmers.stemmer(language), snowballstemmer.stemmer(language).stemWord
        assert [ours(w) for w in sorted(latin)] == [theirs(w) for w in sorted(latin)]


def test_the_stemmers_leave_the_other_languages_unimported() -> None:
    code = (
        "import sys; from kb_search.search import stemmers; "
        "print(stemmers.stemmer('english')('bookings'), stemmers.stemmer('polish')('płatności'), "
        "'snowballstemmer' in sys.modules, sorted(m for m in sys.modules if m.endswith('_stemmer')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == [
        "book",
        "płatnośc",
        "False",
        "['_kb_search_snowball.english_stemmer',",
        "'_kb_search_snowball.polish_stemmer']",
    ]
