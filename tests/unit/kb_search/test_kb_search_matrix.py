"""The document vector matrix: rows kept in 16 bits, cosines as with float32 to within 5e-5."""

from __future__ import annotations

import numpy as np
import pytest

from kb_search.embedding.bias import normalise
from kb_search.embedding.matrix import CHUNK, VectorMatrix
from kb_search.embedding.model import Vectors

pytestmark = pytest.mark.unit

DIM = 384


def unit_rows(count: int, seed: int) -> Vectors:
    rows = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return normalise(rows)


def test_cosines_match_float32_and_a_row_takes_two_bytes_a_dimension() -> None:
    documents = unit_rows(2 * CHUNK + 37, seed=1)  # more than one chunk, the last one partial
    matrix = VectorMatrix(DIM)
    for doc_id, row in enumerate(documents):
        matrix.install(doc_id, row)
    matrix.invalidate(5)
    for query in unit_rows(20, seed=2):
        exact = documents @ query
        nearest = matrix.nearest(query, limit=len(documents))
        assert 5 not in nearest and len(nearest) == len(documents) - 1
        assert max(abs(score - exact[d]) for d, score in nearest.items()) < 5e-5
    assert matrix.matrix.itemsize * matrix.matrix.shape[1] == 2 * DIM


def test_the_nearest_rows_are_the_float32_ones() -> None:
    documents = unit_rows(500, seed=3)
    matrix = VectorMatrix(DIM)
    for doc_id, row in enumerate(documents):
        matrix.install(doc_id, row)
    for query in unit_rows(20, seed=4):
        exact = documents @ query
        assert set(matrix.nearest(query, limit=10)) == set(np.argsort(-exact)[:10].tolist())
