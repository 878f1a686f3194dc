"""The model's reference vectors: its per-language offsets and the generic small-talk sentences
(`bias`), shipped per model in `offsets/`, else computed from `parallel.json` through the vector
cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kb_search.embedding.bias import OFFSETS_DIR, LanguageOffsets, generic_vectors, load_generic
from kb_search.embedding.cache import VectorCache, text_key
from kb_search.embedding.metrics import EMBEDDED
from kb_search.embedding.model import Embedder, Vectors


def cached_embedding(embedder: Embedder, cache: VectorCache) -> Callable[[str, Sequence[str]], Vectors]:
    """(kind, texts) → vectors, through the cache (for the language offsets' parallel sentences)."""

    def embed(kind: str, texts: Sequence[str]) -> Vectors:
        keys = [text_key(kind, t) for t in texts]
        todo = [(k, t) for k, t in zip(keys, texts, strict=True) if cache.get(k) is None]
        if todo:
            side = embedder.embed_queries if kind == "query" else embedder.embed_passages
            made = side([t for _, t in todo])
            EMBEDDED.labels(kind=kind).inc(len(todo))
            cache.put_many([(k, v) for (k, _), v in zip(todo, made, strict=True)])
        return np.stack([cache.get(k) for k in keys])  # type: ignore[misc]

    return embed


def language_offsets(embedder: Embedder, cache: VectorCache) -> LanguageOffsets:
    """The shipped offsets of this model, else computed from the parallel sentences (cached)."""
    shipped = OFFSETS_DIR / f"{embedder.model_id}.npz"
    if shipped.is_file():
        return LanguageOffsets.load(shipped)
    return LanguageOffsets.compute(cached_embedding(embedder, cache))


def generic_reference(embedder: Embedder, cache: VectorCache, offsets: LanguageOffsets) -> Vectors:
    """The shipped generic-sentence vectors of this model (bias-corrected), else computed (cached)."""
    shipped = OFFSETS_DIR / f"{embedder.model_id}-generic.npz"
    if shipped.is_file() and offsets.passage:
        return load_generic(shipped)
    return generic_vectors(cached_embedding(embedder, cache), offsets)
