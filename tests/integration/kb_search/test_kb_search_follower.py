"""What the index builder does with an event it cannot apply: a bad message is dead-lettered and
skipped; a bug in the index is retried until it applies, never dead-lettered or skipped."""

from __future__ import annotations

import asyncio
import contextlib
import json

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from kb_search.adapters.article_log import kb_stream_name
from kb_search.adapters.follower import INDEX_LAG, ArticleFollower
from kb_search.application.commands import KbCommands
from kb_search.bootstrap import build_index
from kb_search.domain.article import Article
from kb_search.projections.search_index import SearchIndexProjection
from kb_search.search.analysis import Analyzer
from kb_search.search.index import SearchIndex
from kb_search.settings import KbSearchSettings
from shared.contracts.envelope import SYSTEM_ACTOR
from shared.contracts.kb import article_subject
from shared.contracts.subjects import with_prefix
from shared.nats import connect
from tests.integration.kb_search.conftest import Replicas
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

WAIT = 10.0
DLQ = "helpdesk.dlq.>"


class IndexBug:
    """A bug in the index: `SearchIndex.upsert` raises while `on` (set it to switch)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, on: bool) -> None:
        self.on = on
        upsert = SearchIndex.upsert

        def maybe_broken_upsert(index: SearchIndex, item: Article, *, version: int) -> None:
            if self.on:
                raise RuntimeError("a bug in the index")
            upsert(index, item, version=version)

        monkeypatch.setattr(SearchIndex, "upsert", maybe_broken_upsert)


def article(n: int) -> Article:
    return Article.from_mapping(
        {"id": f"kb:{n}", "lang": "uk", "section": "reports", "title": f"Нічний аудит {n}", "body": "Звіти."}
    )


async def test_an_event_whose_article_the_domain_refuses_is_dead_lettered_and_the_index_goes_on(
    commands: KbCommands, nc: NATS, migrated: KbSearchSettings, replica: Replicas
) -> None:
    prefix = migrated.common.nats_prefix
    js = nc.jetstream()
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    stream = kb_stream_name(prefix)
    stored = await js.get_msg(stream, seq=(await js.stream_info(stream)).state.last_seq)  # kb:1's
    # A valid event by the contract (any text is a url there) that the domain refuses (not http/https).
    poison = json.loads(stored.data or b"")
    poison["data"] |= {"article_id": "kb:evil", "url": "javascript:alert(1)"}
    await js.publish(with_prefix(prefix, article_subject("kb:evil")), json.dumps(poison).encode())
    await commands.publish(article(2), actor=SYSTEM_ACTOR)
    dlq = await js.subscribe(with_prefix(prefix, DLQ), ordered_consumer=True)
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert "kb:1" in r.projection.index and "kb:2" in r.projection.index
        assert "kb:evil" not in r.projection.index
        parked = await dlq.next_msg(timeout=WAIT)
        assert parked.headers is not None
        assert "InvalidArticle" in parked.headers["Helpdesk-Dead-Letter-Reason"]
        assert (r.follower.dead_lettered, r.follower.apply_failures) == (1, 0)
    await dlq.unsubscribe()


async def test_a_bug_in_the_index_is_retried_with_its_traceback_logged_and_never_dead_lettered(
    commands: KbCommands,
    nc: NATS,
    migrated: KbSearchSettings,
    replica: Replicas,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = 3
    upsert = SearchIndex.upsert

    def broken_upsert(index: SearchIndex, item: Article, *, version: int) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a bug in the index")
        upsert(index, item, version=version)

    monkeypatch.setattr(SearchIndex, "upsert", broken_upsert)
    js = nc.jetstream()
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    dlq = await js.subscribe(with_prefix(migrated.common.nats_prefix, DLQ), ordered_consumer=True)
    with capture_logs() as logs:
        async with replica() as r:
            assert await r.follower.wait_caught_up(WAIT)
            # Not skipped: the event that failed three times is in the index once the bug is gone.
            assert "kb:1" in r.projection.index
            assert (r.follower.dead_lettered, r.follower.apply_failures) == (0, 3)
    with pytest.raises(nats.errors.TimeoutError):
        await dlq.next_msg(timeout=0.5)
    await dlq.unsubscribe()
    failed = [entry for entry in logs if entry["event"] == "kb_apply_failed"]
    assert len(failed) == 3
    assert all(entry["exc_info"] and entry["log_level"] == "error" for entry in failed)


async def test_readiness_details_name_the_event_the_index_keeps_failing_on_until_it_goes_in(
    commands: KbCommands, replica: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    bug = IndexBug(monkeypatch, on=True)
    await commands.publish(article(2), actor=SYSTEM_ACTOR)
    async with replica() as r:
        await eventually(lambda: r.follower.apply_failures >= 1, what="the index failing")
        assert r.follower.apply_state().startswith("retrying event ")
        assert "kb:2" not in r.projection.index
        bug.on = False  # the bug is fixed (a new release): the same event goes in
        assert await r.follower.wait_caught_up(WAIT)
        await eventually(lambda: "kb:2" in r.projection.index, what="the article in the index")
        assert r.follower.apply_state() == "ok"


async def test_the_replica_reports_how_far_its_index_is_behind_the_stream(
    commands: KbCommands,
    migrated: KbSearchSettings,
    replica: Replicas,
    nc: NATS,
    shared_analyzer: Analyzer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ordered consumer is not durable, so the server's consumer lag does not cover it: the
    follower samples its index's lag itself (`helpdesk_kb_index_lag_events`, alerted on)."""
    bug = IndexBug(monkeypatch, on=False)

    def gauge() -> float | None:
        return REGISTRY.get_sample_value("helpdesk_kb_index_lag_events")

    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert await r.follower.sample_lag() == 0 and gauge() == 0
        bug.on = True  # the next event keeps failing: the replica stays on it
        await commands.publish(article(2), actor=SYSTEM_ACTOR)
        await commands.publish(article(3), actor=SYSTEM_ACTOR)
        await eventually(lambda: r.follower.apply_failures >= 1, what="the index failing")
        assert await r.follower.sample_lag() == 2 and gauge() == 2
        bug.on = False
        await eventually(lambda: "kb:3" in r.projection.index, what="both articles in")
        assert await r.follower.sample_lag() == 0 and gauge() == 0

    # Sampled by itself while the follower runs, every `lag_interval`.
    conn = await connect(migrated.common, name="kb-replica-lag")
    projection = SearchIndexProjection(build_index(migrated, shared_analyzer))
    follower = ArticleFollower(
        conn.jetstream(), projection, prefix=migrated.common.nats_prefix, lag_interval=0.05
    )
    INDEX_LAG.set(-1)
    bug.on = True  # article 1 can not go in: the whole stream (3 articles) stays unapplied
    follower.start()
    try:
        await eventually(lambda: gauge() == 3, what="the lag sampled by the follower")
        bug.on = False
        await eventually(lambda: gauge() == 0, what="the lag back to 0 once applied")
    finally:
        await follower.stop()
        await conn.drain()


async def test_stopping_ends_the_lag_sampling_even_when_a_request_swallows_the_cancel(
    commands: KbCommands,
    migrated: KbSearchSettings,
    shared_analyzer: Analyzer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Python 3.11, `asyncio.wait_for` (inside nats-py's requests) returns the answer instead of
    raising when a cancel lands as the answer arrives: the sampling loop must still end on `stop()`."""

    async def swallowing_sample(follower: ArticleFollower) -> int:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.5)
        return 0

    monkeypatch.setattr(ArticleFollower, "sample_lag", swallowing_sample)
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    conn = await connect(migrated.common, name="kb-replica-stop")
    projection = SearchIndexProjection(build_index(migrated, shared_analyzer))
    follower = ArticleFollower(conn.jetstream(), projection, prefix=migrated.common.nats_prefix)
    follower.start()
    try:
        assert await follower.wait_caught_up(WAIT)
        await asyncio.sleep(0.1)  # inside a sample
        stopping = asyncio.create_task(follower.stop())
        done, _ = await asyncio.wait({stopping}, timeout=3)
        assert stopping in done, "stop() hung: the sampling loop went on"
    finally:
        await conn.drain()
