"""One replica's document vectors and the query side of the dense signal.

Articles arrive on the event loop (`add`): a vector found in the cache is installed at once; the
others are queued for a background thread, which embeds them in small batches, appends them to the
cache and hands them back; the loop installs finished vectors at its next query or article
(`sync`). So embedding never runs on the request path, and until a document has its vector the
index answers for it lexically. A query the index wants a vector for (`fusion.needs_dense`) is
embedded by `embed_query` in the query thread (`batching`: the queries waiting at that moment in one
forward pass; the model's calls release the GIL), so the event loop is never held by the model; its
vector is kept in a small LRU.

State, for `/readyz` details and a metric: `ready` (every live article has its vector), `warming`
(some are still queued), `unavailable` (no model: lexical only).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from pathlib import Path

import numpy as np
from prometheus_client import Gauge

from kb_search.embedding.batching import QueryBatcher
from kb_search.embedding.bias import LanguageOffsets, normalise
from kb_search.embedding.cache import VectorCache, text_key
from kb_search.embedding.matrix import VectorMatrix
from kb_search.embedding.metrics import DENSE_MISSING, DENSE_STATE, EMBEDDED, LEXICAL_ONLY
from kb_search.embedding.model import Embedder, EmbedderUnavailable, Vectors, load_embedder
from kb_search.embedding.references import generic_reference, language_offsets
from shared.logging import get_logger

log = get_logger(__name__)

MAX_PASSAGE_CHARS = 1200  # title + the start of the body: how-to pages say what they are about early
BATCH = 8
INSTALL_BATCH = 64  # cached vectors installed together: a few numpy passes instead of ~15 calls each
QUERY_CACHE = 4096


Job = tuple[int, tuple[bytes, ...], tuple[str, ...]]  # document, text keys, texts


class DenseState(StrEnum):
    READY = "ready"
    WARMING = "warming"
    UNAVAILABLE = "unavailable"


@cache
def _state_gauges() -> dict[DenseState, Gauge]:
    """Each state's gauge, looked up once: `labels` takes a lock and a dict lookup, ~5% of indexing."""
    return {state: DENSE_STATE.labels(state=state.value) for state in DenseState}


def document_texts(title: str, text: str) -> tuple[str, str]:
    """What is embedded of an article: its title alone and its title with the start of its body.
    A document's vector is the sum of both (measured on the tuning half: title + body found the
    right English article for 80% of Ukrainian and Russian queries at rank 3, body alone 75%)."""
    return title, f"{title}\n{text[:MAX_PASSAGE_CHARS]}"[:MAX_PASSAGE_CHARS]  # not the whole body copied


class DenseIndex:
    """Vectors by the search index's document number; `embedder=None`: unavailable, lexical only."""

    def __init__(
        self,
        embedder: Embedder | None,
        *,
        cache: VectorCache | None = None,
        offsets: LanguageOffsets | None = None,
        generic: Vectors | None = None,
        background: bool = True,
    ) -> None:
        self._embedder = embedder
        self.dim = embedder.dim if embedder else 0
        self._cache = (
            cache
            if cache is not None
            else (VectorCache(None, model_id=embedder.model_id, dim=self.dim) if embedder else None)
        )
        self.offsets = offsets or LanguageOffsets()
        self._generic = generic  # small talk (`bias.generic_vectors`): None, no "no answer" rule
        self._vectors = VectorMatrix(self.dim)
        # Document still waiting for its vector → (text keys, language); dropped once installed
        # (kept for every document, ~0.27 KiB an article).
        self._wanted: dict[int, tuple[tuple[bytes, ...], str]] = {}
        self._missing: set[int] = set()
        # Document → its texts' vectors and language, found or made and not yet in the matrix
        # (`_install_pending`: at most `INSTALL_BATCH`, and none once anything reads the matrix).
        self._pending: dict[int, tuple[list[Vectors], str]] = {}
        self._done: list[tuple[int, tuple[bytes, ...], list[Vectors]]] = []
        self._done_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._queries: OrderedDict[tuple[str, tuple[str, ...]], Vectors] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._batcher: QueryBatcher | None = None
        self._background = background
        self._thread: threading.Thread | None = None
        self._failed = False
        self.embed_calls = 0
        self._published: tuple[DenseState, int] | None = None
        self._publish_state()

    # ---- state ---------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._embedder is not None and not self._failed

    @property
    def state(self) -> DenseState:
        if not self.available:
            return DenseState.UNAVAILABLE
        self.sync()
        return DenseState.WARMING if self._missing else DenseState.READY

    @property
    def generation(self) -> int:
        """Changes whenever a document's vector is installed or dropped."""
        self._install_pending()
        return self._vectors.generation

    @property
    def model_id(self) -> str:
        return self._embedder.model_id if self._embedder else ""

    def _publish_state(self) -> None:
        current = (
            DenseState.UNAVAILABLE
            if not self.available
            else (DenseState.WARMING if self._missing else DenseState.READY)
        )
        published = (current, len(self._missing))
        if published == self._published:  # every article added: the gauges' locks cost ~4% of indexing
            return
        self._published = published
        for state, gauge in _state_gauges().items():
            gauge.set(1 if state is current else 0)
        DENSE_MISSING.set(published[1])

    # ---- documents -----------------------------------------------------------------------------

    def add(self, doc_id: int, *, title: str, text: str, lang: str) -> None:
        """The document's vector from the cache, or queued to be embedded."""
        if not self.available or self._cache is None:
            return
        texts = document_texts(title, text)
        keys = tuple(text_key("passage", t) for t in texts)
        self._wanted.pop(doc_id, None)
        self._pending.pop(doc_id, None)
        self._vectors.invalidate(doc_id)
        cached = [self._cache.get(k) for k in keys]
        if all(v is not None for v in cached):
            self._install(doc_id, cached, lang)  # type: ignore[arg-type]
            if len(self._pending) >= INSTALL_BATCH:
                self._install_pending()
        else:
            self._wanted[doc_id] = (keys, lang)
            self._missing.add(doc_id)
            if self._background:
                self._ensure_thread()
                self._queue.put((doc_id, keys, texts))
            else:
                self._embed_batch([(doc_id, keys, texts)])
                self.sync()
        self._publish_state()

    def discard(self, doc_id: int) -> None:
        self._wanted.pop(doc_id, None)
        self._pending.pop(doc_id, None)
        self._missing.discard(doc_id)
        self._vectors.invalidate(doc_id)
        self._publish_state()

    def _install(self, doc_id: int, parts: list[Vectors], lang: str) -> None:
        """Queued for `_install_pending`; the document is no longer waiting for the model."""
        self._pending[doc_id] = (parts, lang)
        self._wanted.pop(doc_id, None)
        self._missing.discard(doc_id)

    def _install_pending(self) -> None:
        """Each pending document's vector into the matrix: the sum of its texts' vectors, each
        corrected for its language (`LanguageOffsets.correct_passages`), normalised. One numpy
        pass per language for the whole batch, row for row the same arithmetic as one document
        at a time (the same matrix bytes)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        by_lang: dict[str, list[int]] = {}
        for doc_id, (_, lang) in pending.items():
            by_lang.setdefault(lang, []).append(doc_id)
        for lang, doc_ids in by_lang.items():
            parts = np.array([pending[doc_id][0] for doc_id in doc_ids])  # documents × texts × dim
            corrected = self.offsets.correct_passages(parts, lang)
            self._vectors.install_many(doc_ids, normalise(corrected.sum(axis=1)))

    def sync(self) -> None:
        """Install the vectors found in the cache and those the background thread has finished
        (on the loop's thread)."""
        if self._done:
            with self._done_lock:
                done, self._done = self._done, []
            for doc_id, keys, parts in done:
                wanted = self._wanted.get(doc_id)
                if wanted is not None and wanted[0] == keys:  # not changed or retired meanwhile
                    self._install(doc_id, parts, wanted[1])
            self._publish_state()
        self._install_pending()

    # ---- the background embedder ---------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="kb-embedder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._embed_batch(batch)

    def _embed_batch(self, batch: list[Job]) -> None:
        assert self._embedder is not None and self._cache is not None
        cache = self._cache
        fresh = dict(
            (k, t)
            for _, keys, texts in batch
            for k, t in zip(keys, texts, strict=True)
            if cache.get(k) is None
        )
        if fresh:
            try:
                vectors = self._embedder.embed_passages(list(fresh.values()))
            except Exception:  # a broken model must not break search: degrade to lexical only
                log.exception("kb_dense_embedding_failed", texts=len(fresh))
                self._failed = True
                return
            self.embed_calls += len(fresh)
            EMBEDDED.labels(kind="passage").inc(len(fresh))
            cache.put_many(list(zip(fresh, vectors, strict=True)))
        finished = []
        for doc_id, keys, _ in batch:
            parts = [cache.get(k) for k in keys]
            if all(p is not None for p in parts):
                finished.append((doc_id, keys, parts))
        with self._done_lock:
            self._done.extend(finished)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()
            self._batcher = None
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def wait_ready(self, timeout: float) -> bool:
        """Block until every queued document has its vector (benchmarks and tests)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state is not DenseState.WARMING:
                return True
            time.sleep(0.02)
        return False

    # ---- queries -------------------------------------------------------------------------------

    def has_query_vector(self, text: str, langs: Sequence[str]) -> bool:
        with self._queries_lock:
            return (text, tuple(langs)) in self._queries

    def query_vector(self, text: str, langs: Sequence[str]) -> Vectors | None:
        """The query's corrected vector, from the LRU or the model (on the calling thread)."""
        if not self.available or self._embedder is None:
            return None
        found = self._known_query(text, langs)
        if found is not None:
            return found
        try:
            raw = self._embedder.embed_queries([text])[0]
        except Exception:  # a model failing on one query: that search is lexical, not a 500
            log.exception("kb_dense_query_embedding_failed")
            return None
        return self._remember_query(text, langs, raw)

    async def embed_query(self, text: str, langs: Sequence[str]) -> Vectors | None:
        """`query_vector` made in the query thread, batched with the other queries waiting then:
        the event loop serves other requests meanwhile."""
        if not self.available or self._embedder is None:
            return None
        found = self._known_query(text, langs)
        if found is not None:
            return found
        if self._batcher is None:
            self._batcher = QueryBatcher(self._embedder.embed_queries)
        try:
            raw = await asyncio.wrap_future(self._batcher.submit(text))
        except Exception:  # a model failing on one query: that search is lexical, not a 500
            log.exception("kb_dense_query_embedding_failed")
            return None
        return self._remember_query(text, langs, raw)

    def _known_query(self, text: str, langs: Sequence[str]) -> Vectors | None:
        key = (text, tuple(langs))
        with self._queries_lock:
            found = self._queries.get(key)
            if found is not None:
                self._queries.move_to_end(key)
            return found

    def _remember_query(self, text: str, langs: Sequence[str], raw: Vectors) -> Vectors:
        EMBEDDED.labels(kind="query").inc()
        vector = self.offsets.correct_query(normalise(raw), langs)
        with self._queries_lock:
            self._queries[(text, tuple(langs))] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def scores(
        self, text: str, *, langs: Sequence[str], limit: int, vector: Vectors | None = None
    ) -> dict[int, float] | None:
        """Cosine similarity of the `limit` nearest documents; None when the model is unavailable.
        `vector`: the query's, already made (else it is looked up or made here)."""
        if not self.available:
            LEXICAL_ONLY.inc()
            return None
        self.sync()
        if not self._vectors.any():
            return {}
        if vector is None:
            vector = self.query_vector(text, langs)
        if vector is None:
            return None
        return self._vectors.nearest(vector, limit)

    def generic_similarity(
        self, text: str, *, langs: Sequence[str], vector: Vectors | None = None
    ) -> float | None:
        """The query's mean cosine to the generic sentences (`fusion.no_good_answer`)."""
        if self._generic is None or not self.available:
            return None
        if vector is None:
            vector = self.query_vector(text, langs)
        if vector is None:
            return None
        return float(np.einsum("ij,j->i", self._generic, vector).mean())


def open_dense(
    model: str,
    *,
    directory: Path | None,
    threads: int = 1,
    correct_bias: bool = True,
    background: bool = True,
) -> DenseIndex:
    """The replica's dense signal: the model, its vector cache and its language offsets; an
    unavailable one (lexical search only) when the model cannot be loaded."""
    try:
        embedder = load_embedder(model, threads=threads)
    except EmbedderUnavailable as exc:
        log.warning("kb_dense_unavailable", reason=str(exc))
        return DenseIndex(None)
    cache = VectorCache(directory, model_id=embedder.model_id, dim=embedder.dim)
    offsets = language_offsets(embedder, cache) if correct_bias else None
    generic = generic_reference(embedder, cache, offsets or LanguageOffsets())
    log.info("kb_dense_loaded", model=embedder.model_id, cached_vectors=len(cache))
    return DenseIndex(embedder, cache=cache, offsets=offsets, generic=generic, background=background)
