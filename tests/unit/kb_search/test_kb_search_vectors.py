"""Document vectors arriving from the background embedder after their document changed."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from kb_search.embedding.bias import normalise
from kb_search.embedding.cache import VectorCache, text_key
from kb_search.embedding.dense import DenseIndex, DenseState, document_texts
from kb_search.embedding.model import Vectors

pytestmark = pytest.mark.unit

DIM = 4


class HeldEmbedder:
    """Embeds each text as a fixed pseudo-random unit vector, once `release` is set."""

    model_id = "held-1"
    dim = DIM

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_passages(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.started.set()
        assert self.release.wait(10)
        return np.stack([vector(t) for t in texts])


def vector(text: str) -> Vectors:
    seed = sum(map(ord, text))
    return normalise(np.random.default_rng(seed).standard_normal(DIM).astype(np.float32))


def test_a_vector_finished_for_an_older_version_never_replaces_the_current_one() -> None:
    embedder = HeldEmbedder()
    cache = VectorCache(None, model_id=embedder.model_id, dim=DIM)
    dense = DenseIndex(embedder, cache=cache, background=True)
    dense.add(0, title="Refunds", text="Old body of the article.", lang="en")
    assert embedder.started.wait(10)
    states = [dense.state]
    current = document_texts("Refunds", "New body: money goes back to the card.")
    cache.put_many([(text_key("passage", t), vector(t)) for t in current])
    dense.add(0, title="Refunds", text="New body: money goes back to the card.", lang="en")
    states.append(dense.state)  # the current version's vector came from the cache
    assert states == [DenseState.WARMING, DenseState.READY]
    embedder.release.set()
    dense.stop()  # the old version's vector is finished and handed back
    expected = normalise(np.sum([vector(t) for t in current], axis=0))
    nearest = dense.scores("", langs=("en",), limit=1, vector=expected)
    assert nearest is not None and nearest[0] == pytest.approx(1.0, abs=1e-4)  # rows are 16-bit
    assert dense.state is DenseState.READY
