"""pymorphy3's prediction DAWGs read from their mapped files: the same analyses as loaded whole."""

from __future__ import annotations

from typing import Any

import pymorphy3
import pytest

from kb_search.search.analysis import Analyzer
from kb_search.search.morphology import map_prediction_dawgs

pytestmark = pytest.mark.unit

# Known words, and words no dictionary has (typos, coinages): those are analysed by suffix, from
# the prediction DAWGs.
WORDS = {
    "uk": ["бронювання", "заселенням", "прогрівання", "перепрограмовування", "щоденникарів",
           "бронюванння", "касирці", "овербукінгами"],
    "ru": ["бронирования", "заселением", "гостиничный", "перепрограммирования", "кракозябрами",
           "бронированния", "кассирши", "овербукингами"],
}  # fmt: skip


def analyses(morph: Any, word: str) -> list[tuple[str, str, float]]:
    return [(p.normal_form, str(p.tag), p.score) for p in morph.parse(word)]


@pytest.mark.parametrize("lang", ["uk", "ru"])
def test_mapped_prediction_dawgs_give_the_same_analyses(lang: str) -> None:
    loaded, mapped = pymorphy3.MorphAnalyzer(lang=lang), pymorphy3.MorphAnalyzer(lang=lang)
    assert map_prediction_dawgs(mapped) > 1_000_000
    for word in WORDS[lang]:
        assert analyses(mapped, word) == analyses(loaded, word), word


def test_the_analyser_reads_its_prediction_dawgs_from_their_files() -> None:
    analyzer = Analyzer()
    for morph in (analyzer._uk, analyzer._ru):
        dawgs = morph.dictionary.prediction_suffixes_dawgs
        assert all(isinstance(d.dct._units, memoryview) for d in dawgs)
