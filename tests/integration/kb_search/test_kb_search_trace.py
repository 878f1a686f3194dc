"""An article published inside a traced request is indexed by every replica in a span of that trace."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from kb_search.adapters.follower import CONSUMER
from kb_search.application.commands import KbCommands
from kb_search.domain.article import Article
from shared import tracing
from shared.contracts.envelope import SYSTEM_ACTOR
from tests.integration.kb_search.conftest import Replicas
from tests.spans import by_name, recording_spans

pytestmark = pytest.mark.integration

WAIT = 10.0


async def test_each_replica_indexes_a_published_article_as_part_of_the_publishing_trace(
    commands: KbCommands, replica: Replicas
) -> None:
    with recording_spans() as exporter:
        async with replica() as a, replica() as b:
            assert await a.follower.wait_caught_up(WAIT)
            assert await b.follower.wait_caught_up(WAIT)
            with tracing.span("POST /api/v1/kb/articles", kind=SpanKind.SERVER) as request:
                raw = {"id": "kb:1", "lang": "uk", "section": "reports", "title": "Нічний аудит",
                       "body": "Звіти нічного аудиту."}  # fmt: skip
                appended = await commands.publish(Article.from_mapping(raw), actor=SYSTEM_ACTOR)
            for r in (a, b):
                assert await r.projection.wait_for(appended.sequence, within=WAIT)
        indexed = by_name(exporter.get_finished_spans(), f"{CONSUMER} process")
    assert request is not None
    context = request.get_span_context()
    traced = [s for s in indexed if s.context is not None and s.context.trace_id == context.trace_id]
    assert len(traced) == 2  # one per replica
    for span in traced:
        assert span.kind is SpanKind.CONSUMER
        assert span.parent is not None and span.parent.span_id == context.span_id
    # The sections written at migration, outside any request, were indexed in traces of their own.
    assert all(s.parent is None for s in indexed if s not in traced)
