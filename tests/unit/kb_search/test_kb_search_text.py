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


def words_of_every_corpus() -> set[str]:
    """Every word of the demo and wiki articles and of the relevance queries."""
    root = Path(__file__).resolve().parents[3]
    found: set[str] = set()
    for path in (
        DEMO_DIR / "articles.jsonl",
        root / "benchmarks" / "data" / "kb_wiki_articles.jsonl",
        root / "benchmarks" / "data" / "kb_wiki_relevance.jsonl",
    ):
        for line in path.read_text(encoding="utf-8").splitlines():
            found.update(words(" ".join(map(str, json.loads(line).values()))))
    return found


def latin_words_of_every_corpus() -> set[str]:
    """Every Latin word of the demo and wiki articles and of the relevance queries."""
    return {w for w in words_of_every_corpus() if w.isascii() or set(w) & POLISH_LETTERS}


def test_english_and_polish_words_stem_as_the_snowball_package_stems_them() -> None:
    import snowballstemmer

    latin = latin_words_of_every_corpus()
    assert len(latin) > 1000
    for language in ("english", "polish"):
        ours, theirs = stemmers.stemmer(language), snowballstemmer.stemmer(language).stemWord
        assert [ours(w) for w in sorted(latin)] == [theirs(w) for w in sorted(latin)]


def test_the_stemmers_among_lookups_match_snowball_s_on_made_up_words() -> None:
    """Our `find_among`/`find_among_b` (a dict per length) try the entries Snowball's binary search
    tries, in its order: made-up stems with English and Polish endings stack up its tables' cases."""
    import random

    import snowballstemmer

    rng = random.Random(7)
    suffixes = [
        "s", "es", "ed", "ing", "ly", "ness", "ment", "ation", "ational", "izer", "fulness", "ousli", "iviti",
        "biliti", "alli", "entli", "eli", "ies", "ied", "eed", "eedly", "ingly", "edly", "ość", "ości", "ami",
        "ach", "owie", "iej", "ego", "emu", "ymi", "ich", "cie", "ować", "ania", "anie", "eniu", "ście", "ła",
        "ło", "y",
    ]  # fmt: skip
    made_up = [
        "".join(rng.choice("abcdeiklmnoprstuwyząćęłńóś'") for _ in range(rng.randint(1, 6)))
        + "".join(rng.choice(suffixes) for _ in range(rng.randint(0, 3)))
        for _ in range(10_000)
    ]
    for language in ("english", "polish"):
        ours, theirs = stemmers.stemmer(language), snowballstemmer.stemmer(language).stemWord
        assert [ours(w) for w in made_up] == [theirs(w) for w in made_up]


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


def cyrillic_words_of_every_corpus() -> list[str]:
    """Every Cyrillic word of the demo and wiki articles and of the relevance queries, and a few
    whose parses' normal forms differ (the Russian ones ordered by P(tag | word)), single letters
    (pymorphy3's initials), capitals, ё written е and ґ written г."""
    found = {"стали", "мою", "три", "печь", "вина", "души", "еж", "ежик", "а", "А", "Стали", "гудзик"}
    found.update(w for w in words_of_every_corpus() if normalise.script(w) is normalise.Script.CYRILLIC)
    return sorted(found)


def test_a_lemma_is_the_first_parse_s_normal_form(analyzer: Analyzer) -> None:
    """One dictionary lookup gives what `parse(word)[0].normal_form` gives, and whether the word is
    known as `word_is_known` tells."""
    cyrillic = cyrillic_words_of_every_corpus()
    assert len(cyrillic) > 1000
    for dictionary in (analyzer._uk, analyzer._ru):
        morph = dictionary.morph
        assert [dictionary.lemma(w) for w in cyrillic] == [
            str(morph.parse(w)[0].normal_form).replace("ё", "е") for w in cyrillic
        ]
        assert [bool(dictionary.lookup(w)) for w in cyrillic] == [morph.word_is_known(w) for w in cyrillic]
    assert analyzer._ru.lemma("еж") == "еж"  # ёж, found through the ё substitute and folded back


def test_indexing_s_cache_gives_each_word_and_its_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb_search.search import analysis

    monkeypatch.setattr(analysis, "CACHE_SIZE", 4)
    analyzer = Analyzer()
    analysed = analyzer.analysed
    expected = {
        ("звітів", "uk"): ("звітів", ("звіт",)),
        ("брoнювання", "uk"): ("бронювання", ("бронювання",)),  # a Latin o
        ("як", "uk"): None,
        ("bookings", "en"): ("bookings", ("book",)),
        ("bookings", "uk"): ("bookings", ("book", "bookings")),  # English, Polish
    }
    assert {key: analysed(*key) for key in expected} == expected
    assert analysed.cache_info() == (5, 4, 1)  # misses, most words, words: emptied at the fifth
    kept = {key: found for key, found in expected.items() if key != ("bookings", "en")}
    for _ in range(2):  # the fifth from the cache, the others once more, then all from the cache
        assert {key: analysed(*key) for key in kept} == kept
        assert analysed.cache_info() == (8, 4, 4)
    assert analysed("звіти", "uk") == ("звіти", ("звіт",))
    one, other = analysed("звіти", "uk"), analysed("звітами", "uk")
    assert one is not None and other is not None and one[1] is other[1]  # one tuple, equal terms
    analysed.cache_clear()
    assert analysed.cache_info().currsize == 0


PURE_DAWG_TERMS = """
import json, sys
sys.modules["dawg"] = None  # as if the DAWG2 extension were not installed: pymorphy3's fallback
import pymorphy3.dawg
from kb_search.search.analysis import Analyzer
words = json.load(sys.stdin)
analyzer = Analyzer()
terms = [analyzer._word_terms(w, hint) for w in words for hint in ("", "uk", "ru")]
print(json.dumps([pymorphy3.dawg.EXTENSION_AVAILABLE, terms]))
"""


def test_the_dictionaries_are_read_by_the_extension_with_the_pure_readers_lemmas(analyzer: Analyzer) -> None:
    """pymorphy3 reads its dictionaries with the DAWG2 extension when it is installed (a new word's
    lemma ~25% less CPU on a realistic vocabulary) and with the pure-Python reader otherwise: the
    same files, the same lemmas."""
    import platform

    import pymorphy3.dawg

    # Where pyproject.toml installs DAWG2 (it has wheels there; the locks are for Linux x86_64).
    if (sys.platform == "linux" and platform.machine() == "x86_64") or sys.platform == "darwin":
        assert pymorphy3.dawg.EXTENSION_AVAILABLE
    cyrillic = cyrillic_words_of_every_corpus()
    done = subprocess.run(
        [sys.executable, "-c", PURE_DAWG_TERMS],
        input=json.dumps(cyrillic),
        check=True,
        capture_output=True,
        text=True,
    )
    extension, pure = json.loads(done.stdout)
    assert extension is False
    ours = [list(analyzer._word_terms(w, hint)) for w in cyrillic for hint in ("", "uk", "ru")]
    assert len(ours) > 3000 and ours == pure
