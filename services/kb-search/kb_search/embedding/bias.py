"""The correction for the model's preference for the query's own language.

Measured on the wiki relevance set: with multilingual-e5 a Ukrainian query ranks an unrelated
Ukrainian article above the right English one, because every vector carries a component that says
which language the text is in. That component is estimated once per language as the mean vector
of generic parallel sentences (`parallel.json`: the same meanings in en/uk/ru/pl, no hotel-system
words, so the content averages out and the language stays), and subtracted (minus the mean of all
languages) from every query and passage vector of that language before comparing them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb_search.embedding.model import Vectors

PARALLEL_SENTENCES = Path(__file__).parent / "parallel.json"
OFFSETS_DIR = Path(__file__).parent / "offsets"  # computed once per model id, shipped: no start-up cost
LANGUAGES = ("en", "uk", "ru", "pl")

Embed = Callable[[str, Sequence[str]], Vectors]  # (kind, texts) → vectors


def normalise(vectors: Vectors) -> Vectors:
    # `np.linalg.norm(vectors, axis=-1, keepdims=True)`'s own arithmetic for a real array (the
    # same values), without its argument handling: indexing normalises two vectors an article.
    norms = np.sqrt(np.add.reduce(vectors * vectors, axis=-1, keepdims=True))
    normalised: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


@dataclass(frozen=True)
class LanguageOffsets:
    """Per side (query, passage) and language: the vector to subtract. Empty: no correction."""

    query: dict[str, Vectors] = field(default_factory=dict)
    passage: dict[str, Vectors] = field(default_factory=dict)

    @classmethod
    def compute(cls, embed: Embed, path: Path = PARALLEL_SENTENCES) -> LanguageOffsets:
        rows = json.loads(path.read_text(encoding="utf-8"))["sentences"]
        sides: dict[str, dict[str, Vectors]] = {}
        for kind in ("query", "passage"):
            means = {lang: embed(kind, [row[lang] for row in rows]).mean(axis=0) for lang in LANGUAGES}
            centre = np.mean(list(means.values()), axis=0)
            sides[kind] = {lang: (mean - centre).astype(np.float32) for lang, mean in means.items()}
        return cls(query=sides["query"], passage=sides["passage"])

    def save(self, path: Path) -> None:
        arrays = {f"{side}_{lang}": vec for side, by in (("query", self.query), ("passage", self.passage))
                  for lang, vec in by.items()}  # fmt: skip
        with path.open("wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> LanguageOffsets:
        with np.load(path) as data:
            sides: dict[str, dict[str, Vectors]] = {"query": {}, "passage": {}}
            for name in data.files:
                side, lang = name.split("_", 1)
                sides[side][lang] = data[name].astype(np.float32)
        return cls(query=sides["query"], passage=sides["passage"])

    def _offset(self, side: dict[str, Vectors], langs: Sequence[str]) -> Vectors | None:
        found = [side[lang] for lang in langs if lang in side]
        if not found:
            return None
        return found[0] if len(found) == 1 else np.mean(found, axis=0).astype(np.float32)

    def correct_query(self, vector: Vectors, langs: Sequence[str]) -> Vectors:
        """`langs`: the languages the query may be in (two when its letters do not tell)."""
        offset = self._offset(self.query, langs)
        return vector if offset is None else normalise(vector - offset)

    def correct_passages(self, vectors: Vectors, lang: str) -> Vectors:
        offset = self._offset(self.passage, (lang,))
        return vectors if offset is None else normalise(vectors - offset)


def generic_vectors(embed: Embed, offsets: LanguageOffsets, path: Path = PARALLEL_SENTENCES) -> Vectors:
    """The parallel sentences as passages in every language, corrected like articles: small talk
    that answers no question, the reference a query's best article must clearly beat."""
    rows = json.loads(path.read_text(encoding="utf-8"))["sentences"]
    parts = [
        offsets.correct_passages(embed("passage", [row[lang] for row in rows]), lang) for lang in LANGUAGES
    ]
    return normalise(np.concatenate(parts))


def save_generic(vectors: Vectors, path: Path) -> None:
    with path.open("wb") as f:
        np.savez(f, vectors=vectors.astype(np.float16))


def load_generic(path: Path) -> Vectors:
    with np.load(path) as data:
        return normalise(data["vectors"].astype(np.float32))
