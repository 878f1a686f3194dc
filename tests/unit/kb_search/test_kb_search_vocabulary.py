"""Typo correction's delete keys kept as bits of their hash: the same corrections as string keys,
however many keys share their bits, through additions and removals."""

from __future__ import annotations

import json
import random

import pytest
from rapidfuzz.distance import OSA

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


def by_every_word(vocab: Vocabulary, queries: list[str]) -> list[list[tuple[str, int, int]]]:
    """The corrections by definition, word by word: a known word is a candidate when it is the
    query with one letter less, or one more, or both lose one letter and are then equal; kept
    within the typo distance, closest and commonest first."""
    deletes = {w: {w[:i] + w[i + 1 :] for i in range(len(w))} for w in vocab.words()}
    out = []
    for query in queries:
        limit = vocabulary.max_typo_distance(query)
        own = {query[:i] + query[i + 1 :] for i in range(len(query))}
        found = []
        for word, its in deletes.items():
            if limit and word != query and (word in own or query in its or not own.isdisjoint(its)):
                distance = OSA.distance(query, word)
                if distance <= limit:
                    found.append((word, distance, vocab.count(word)))
        found.sort(key=lambda c: (c[1], -c[2], c[0]))
        out.append(found[:10])
    return out


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

    sorted_in = build()
    sorted_in.prepare()
    assert len(sorted_in._tail_keys) == 0 and len(sorted_in._keys) > 10_000
    expected = answers(sorted_in, queries)
    assert sum(map(len, expected)) > 1000
    sample = slice(None, None, 60)
    assert expected[sample] == by_every_word(sorted_in, queries[sample])
    some = slice(None, None, 7)  # the unsorted tail is searched key by key: slower, fewer queries
    assert answers(build(), queries[some]) == expected[some]

    monkeypatch.setattr(vocabulary, "KEY_BITS", 0xFF)  # 256 places for ~20,000 keys
    crowded = build()
    fewer = slice(None, None, 14)  # ~80 words behind each key here
    assert answers(crowded, queries[fewer]) == expected[fewer]
    crowded.prepare()
    assert set(crowded._keys.tolist()) <= set(range(256))
    assert answers(crowded, queries[some]) == expected[some]
    for word in found:
        crowded.discard(word)
        crowded.discard(word)
    assert len(crowded) == 0 and answers(crowded, queries) == [[] for _ in queries]
    crowded.prepare()
    assert crowded.delete_keys() == 0 and crowded._numbered == []


def test_words_removed_and_added_again_are_found_once_whether_their_keys_are_sorted_in_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An edited article's words leave and come back: their keys come again, are skipped while
    the word is not counted, and are kept once when sorted in (here every 300 keys or so)."""
    found = corpus_words()
    rng = random.Random(5)
    queries = [t for w in rng.sample([w for w in found if len(w) >= 4], 300) for t in typos(w, rng)]
    reference = Vocabulary()
    reference.add_all(found)
    expected = answers(reference, queries)

    monkeypatch.setattr(vocabulary, "MIN_TAIL_TO_SORT", 300)
    churned = Vocabulary()
    churned.add_all(found)
    for round_ in range(3):
        batch = rng.sample(found, 400)
        for word in batch:
            churned.discard(word)
        if round_ == 1:
            assert answers(churned, queries) == answers(_without(reference, batch), queries)
        churned.add_all(batch)
        assert answers(churned, queries) == expected
    churned.prepare()
    assert answers(churned, queries) == expected
    assert len(churned._numbered) == sum(len(w) >= vocabulary.MIN_TYPO_LENGTH for w in found)
    assert churned.delete_keys() == reference.delete_keys() - _repeated_bits(reference)


def _without(vocab: Vocabulary, gone: list[str]) -> Vocabulary:
    out = Vocabulary()
    out.add_all(w for w in vocab.words() if w not in set(gone))
    return out


def _repeated_bits(vocab: Vocabulary) -> int:
    """Keys in the unsorted tail that share their word and their bits (kept once when sorted)."""
    pairs = list(zip(vocab._tail_keys, vocab._tail_words, strict=True))
    return len(pairs) - len(set(pairs))


def test_a_correction_is_a_known_word_within_the_typo_distance() -> None:
    vocab = Vocabulary()
    vocab.add_all(["оплата", "оплати", "бронювання", "payment"])
    assert [c.word for c in vocab.corrections("оплтаа")] == ["оплата"]
    assert [c.word for c in vocab.corrections("бронбвання")] == ["бронювання"]
    assert vocab.corrections("paymnet")[0].word == "payment"


def test_a_prepare_after_removals_drops_the_removed_words_keys_however_many_short_words_remain() -> None:
    """Only words of at least `MIN_TYPO_LENGTH` letters have keys, but every word is counted: many
    short words must not hide that some numbered ones were removed."""
    long_words = [f"слово{i:03d}" for i in range(40)]
    short_words = [f"{chr(0x430 + i // 32)}{chr(0x430 + i % 32)}" for i in range(200)]
    vocab = Vocabulary()
    vocab.add_all(long_words + short_words)
    vocab.prepare()
    keys_before = vocab.delete_keys()
    removed = long_words[:10]
    their_keys = {(vocabulary._key(d), w) for w in removed for d in vocabulary._deletes(w)}
    for word in removed:
        vocab.discard(word)
    vocab.prepare()
    assert vocab.delete_keys() == keys_before - len(their_keys)
    assert not set(removed) & set(vocab._numbered)
    assert all(vocab._numbered[i] not in removed for i in vocab._key_words)
    assert len(vocab._numbered) == len(long_words) - len(removed)
