"""The service with its embedding model unavailable (by configuration): search still answers,
lexically, and `/readyz` details and a metric say so. With a slow model: the event loop keeps
answering (`/healthz`) while a search waits for the query's vector."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from kb_search.application.commands import KbCommands
from kb_search.application.runtime import KbRuntime
from kb_search.application.sections import SectionCommands
from kb_search.bootstrap import build_dense, build_index, load_settings
from kb_search.domain.article import Article
from kb_search.embedding.dense import DenseIndex
from kb_search.embedding.model import Vectors
from kb_search.entrypoints import api
from kb_search.projections.search_index import SearchIndexProjection
from kb_search.search.analysis import Analyzer
from kb_search.search.index import SearchIndex
from shared.auth import Principal, Role, current_principal
from shared.health import Readiness, health_router

pytestmark = pytest.mark.integration


async def test_without_the_model_search_answers_lexically_and_readyz_says_dense_unavailable(
    tmp_path: Path, shared_analyzer: Analyzer
) -> None:
    settings = load_settings(dense_model="no-such-model", glossary_path=tmp_path / "none.json")
    dense = build_dense(settings)
    index = build_index(settings, shared_analyzer, dense=dense)
    index.upsert(
        Article.from_mapping({"id": "kb:refund", "lang": "en", "section": "payments-and-fiscal",
                              "title": "Refund to a card", "body": "Return money to the card."}),
        version=1,
    )  # fmt: skip
    before = REGISTRY.get_sample_value("helpdesk_kb_search_lexical_only_total") or 0.0
    assert [h.id for h in index.search("refund card", lang="en").hits] == ["kb:refund"]
    assert REGISTRY.get_sample_value("helpdesk_kb_search_lexical_only_total") == before + 1
    assert REGISTRY.get_sample_value("helpdesk_kb_dense_state", {"state": "unavailable"}) == 1

    readiness = Readiness()

    async def ready() -> bool:
        return True

    readiness.add("index", ready)
    readiness.describe("dense", lambda: dense.state.value)
    app = FastAPI()
    app.include_router(health_router(readiness))
    body = TestClient(app).get("/readyz").json()
    assert body["status"] == "ready"
    assert body["details"] == {"dense": "unavailable"}


class SlowModel:
    """A model that holds its thread for a while per query, and says when it starts and ends."""

    model_id = "slow-1"
    dim = 8

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = threading.Event()
        self.finished = threading.Event()

    def _embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, len(text) % self.dim] = 1.0
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.started.set()
        time.sleep(self.delay)
        self.finished.set()
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)


@dataclass
class CaughtUp:
    caught_up: bool = True


async def test_healthz_answers_while_a_search_waits_for_the_model_and_suggest_never_asks_it(
    shared_analyzer: Analyzer,
) -> None:
    model = SlowModel(delay=1.0)
    dense = DenseIndex(model, background=False)
    index = SearchIndex(analyzer=shared_analyzer, dense=dense)
    index.upsert(
        Article.from_mapping({"id": "kb:refund", "lang": "en", "section": "payments-and-fiscal",
                              "title": "Refund to a card", "body": "Return money to the card."}),
        version=1,
    )  # fmt: skip
    app = FastAPI()
    app.include_router(health_router(Readiness()))
    app.include_router(api.router)
    app.dependency_overrides[current_principal] = lambda: Principal(sub="u1", role=Role.AGENT)
    projection = SearchIndexProjection(index)
    app.state.kb = KbRuntime(
        index=index,
        projection=projection,
        commands=cast(KbCommands, None),
        sections=cast(SectionCommands, None),
        feed=CaughtUp(),
        index_wait_seconds=1.0,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kb") as http:
        # Search-as-you-type is lexical: the same words typed never reach the model.
        typed = await http.get("/api/v1/kb/suggest", params={"q": "повернути гроші", "lang": "uk"})
        assert typed.status_code == 200
        assert not model.started.is_set(), "/suggest asked the model"
        # Ukrainian words the index does not know: the search asks the model.
        searching = asyncio.create_task(
            http.get("/api/v1/kb/search", params={"q": "повернути гроші", "lang": "uk"})
        )
        while not model.started.is_set():
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        health = await http.get("/healthz")
        waited = time.perf_counter() - started
        assert health.status_code == 200
        assert not model.finished.is_set(), "/healthz waited for the model"
        assert waited < 0.5
        assert (await searching).status_code == 200
    dense.stop()
