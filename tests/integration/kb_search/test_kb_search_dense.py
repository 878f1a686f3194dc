"""The service with its embedding model unavailable (by configuration): search still answers,
lexically, and `/readyz` details and a metric say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from kb_search.bootstrap import build_dense, build_index, load_settings
from kb_search.domain.article import Article
from kb_search.search.analysis import Analyzer
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
