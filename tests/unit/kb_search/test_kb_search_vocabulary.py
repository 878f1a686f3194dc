"""Typo correction's delete keys kept as bits of their hash: the same corrections as string keys,
however many keys share their bits, through additions and removals."""

from __future__ import annotations

import json
import random

import pytest

from kb_search.search import vocabulary
from kb_search.search.normalise import words
from kb_search.search.vocabulary import Vocabulary
from kb_search.settings import DEMO_DIR

pytestmark = pytest.mark.unit


def corpus_words() -> list[str]:
    text = " ".join(
        json.loads(line)["title"] + " " + json.loads(line)["body"]
        for line in (DEMO_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    )
    return sorted(set(words(text)))


def typos(word: str, rng: random.Random) -> list[str]:
    i = rng.randrange(len(word))
    j = min(i + 1, len(word) - 1)
    return [
        word[:i] + word[i + 1 :],  # a letter left out
        word[:i] + "о" + word[i:],  # one added
        word[:i] + word[j] + word[i] + word[j + 1 :],  # two swapped
        word[:i] + "x" + word[i + 1 :],  # one replaced
        word[:i] + "ab" + word[i + 2 :],  # two replaced
    ]


def answers(vocab: Vocabulary, queries: list[str]) -> list[list[tuple[str, int, int]]]:
    return [[(c.word, c.distance, c.count) for c in vocab.corrections(q, limit=10)] for q in queries]


def test_keys_that_share_their_bits_give_the_same_corrections_as_keys_that_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = corpus_words()
    assert len(found) > 1000
    rng = random.Random(3)
    queries = [t for w in found if len(w) >= 4 for t in typos(w, rng)] + found
    removed = set(rng.sample(found, 200))

    def build() -> Vocabulary:
        vocab = Vocabulary()
        vocab.add_all(found)
        vocab.add_all(found[::3])  # counts above one
        for word in removed:
            vocab.discard(word)
        return vocab

    expected = answers(build(), queries)
    monkeypatch.setattr(vocabulary, "KEY_BITS", 0xFF)  # 256 buckets for ~20,000 keys
    crowded = build()
    assert len(crowded._by_delete) <= 256
    assert answers(crowded, queries) == expected
    assert sum(map(len, expected)) > 1000
    for word in found:
        crowded.discard(word)
        crowded.discard(word)
    assert len(crowded) == 0 and crowded._by_delete == {}


def test_a_correction_is_a_known_word_within_the_typo_distance() -> None:
    vocab = Vocabulary()
    vocab.add_all(["оплата", "оплати", "бронювання", "payment"])
    assert [c.word for c in vocab.corrections("оплтаа")] == ["оплата"]
    assert [c.word for c in vocab.corrections("бронбвання")] == ["бронювання"]
    assert vocab.corrections("paymnet")[0].word == "payment"
