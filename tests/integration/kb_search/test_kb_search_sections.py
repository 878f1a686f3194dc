"""Sections as data on a real nats-server: defaults, concurrency, import into unknown sections, the
version 1 history read alongside version 2, and `helpdesk kb import` finding the system's NATS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from helpdesk import discovery
from kb_search.adapters.article_log import JetStreamSectionLog, kb_stream_name
from kb_search.application.commands import KbCommands
from kb_search.application.sections import SectionCommands
from kb_search.domain.article import Article
from kb_search.domain.errors import SectionVersionConflict, UnknownSection
from kb_search.domain.section import DEFAULT_SECTIONS, Section
from kb_search.entrypoints.cli import import_path
from kb_search.settings import KbSearchSettings
from shared.contracts import kb_v2
from shared.contracts.envelope import SYSTEM_ACTOR, EventEnvelope
from shared.contracts.kb import ArticlePublished, article_subject, article_uuid
from shared.contracts.subjects import with_prefix
from shared.natsserver import NatsServer
from tests.integration.kb_search.conftest import Replicas

pytestmark = pytest.mark.integration

WAIT = 10.0
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sections(nc: NATS, migrated: KbSearchSettings) -> SectionCommands:
    return SectionCommands(
        JetStreamSectionLog(nc.jetstream(), prefix=migrated.common.nats_prefix), list_ttl=0
    )


def names(word: str) -> dict[str, str]:
    return {"uk": f"{word} uk", "ru": f"{word} ru", "en": f"{word} en", "pl": f"{word} pl"}


async def test_migrate_creates_the_ten_default_sections_once_and_leaves_a_retired_one_retired(
    migrated: KbSearchSettings, sections: SectionCommands
) -> None:
    from kb_search.bootstrap import migrate

    listed = await sections.all()
    assert [s.section.id for s in listed] == [s.id for s in DEFAULT_SECTIONS]
    assert listed[0].section.names["uk"] == "Бронювання"
    await sections.retire("housekeeping", actor=SYSTEM_ACTOR)
    await migrate(migrated)
    again = {s.section.id: s for s in await sections.all()}
    assert len(again) == 10 and again["housekeeping"].retired


async def test_two_editors_renaming_from_the_same_version_cannot_both_win(sections: SectionCommands) -> None:
    state = await sections.live("reports")
    first = Section.of("reports", names("First"), state.section.order)
    second = Section.of("reports", names("Second"), state.section.order)
    results = await asyncio.gather(
        sections.update(first, actor=SYSTEM_ACTOR, expected_version=state.version),
        sections.update(second, actor=SYSTEM_ACTOR, expected_version=state.version),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["SectionVersionConflict", "SectionWritten"]
    assert any(isinstance(r, SectionVersionConflict) for r in results)


async def test_publishing_into_a_retired_section_is_refused_but_its_articles_stay_searchable(
    nc: NATS, migrated: KbSearchSettings, sections: SectionCommands, replica: Replicas
) -> None:
    from kb_search.adapters.article_log import JetStreamArticleLog

    commands = KbCommands(JetStreamArticleLog(nc.jetstream(), prefix=migrated.common.nats_prefix), sections)
    raw = {"id": "kb:wifi", "lang": "en", "section": "settings", "title": "Wi-Fi", "body": "Router."}
    await commands.publish(Article.from_mapping(raw), actor=SYSTEM_ACTOR)
    await sections.retire("settings", actor=SYSTEM_ACTOR)
    with pytest.raises(UnknownSection):
        await commands.publish(Article.from_mapping({**raw, "id": "kb:other"}), actor=SYSTEM_ACTOR)
    with pytest.raises(UnknownSection):
        await commands.publish(Article.from_mapping({**raw, "section": "kitchen"}), actor=SYSTEM_ACTOR)
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert [h.id for h in r.projection.index.search("router", lang="en").hits] == ["kb:wifi"]
        assert [d.article.id for d in r.projection.index.browse(section="settings")] == ["kb:wifi"]


async def test_an_article_with_version_1_history_continues_on_version_2(
    nc: NATS, migrated: KbSearchSettings, commands: KbCommands, replica: Replicas
) -> None:
    prefix = migrated.common.nats_prefix
    raw = {"id": "kb:old", "lang": "en", "section": "reports", "title": "Old", "body": "Written by v1."}
    article = Article.from_mapping(raw)
    data = ArticlePublished.model_validate(
        {
            **{k: v for k, v in raw.items() if k != "id"},
            "article_id": "kb:old",
            "slug": article.slug,
            "content_hash": article.content_hash,
        }
    )
    v1 = EventEnvelope[ArticlePublished](
        event_id=article_uuid("kb:old.1"), type="article.published", schema_version=1,
        occurred_at=datetime.now(UTC), account_id="otelms", aggregate_id=article_uuid("kb:old"),
        aggregate_version=1, actor=SYSTEM_ACTOR, data=data,
    )  # fmt: skip
    await nc.jetstream().publish(
        with_prefix(prefix, article_subject("kb:old")), v1.model_dump_json().encode()
    )
    again = await commands.upsert(article, actor=SYSTEM_ACTOR)
    assert (again.changed, again.version) == (False, 1)  # the v1 event is its current state
    moved = await commands.update(article.in_section("guests"), actor=SYSTEM_ACTOR, expected_version=1)
    assert moved.version == 2
    last = await nc.jetstream().get_last_msg(
        kb_stream_name(prefix), with_prefix(prefix, kb_v2.article_subject("kb:old"))
    )
    assert json.loads(last.data or b"{}")["schema_version"] == 2
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        doc = r.projection.index.get("kb:old")
        assert doc is not None and (doc.article.section, doc.version) == ("guests", 2)


async def test_an_import_creates_unknown_sections_and_maps_others(
    migrated: KbSearchSettings, sections: SectionCommands, tmp_path: Path, replica: Replicas
) -> None:
    path = tmp_path / "wiki.jsonl"
    rows = [
        {"id": "kb:spa", "lang": "en", "section": "spa-and-wellness", "title": "Spa bookings"},
        {"id": "kb:fiscal", "lang": "uk", "section": "fiscal", "title": "Фіскальний чек", "body": "Чек."},
        {"id": "kb:pos", "lang": "en", "section": "restaurant", "title": "POS terminal", "body": "Bar."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = await import_path(
        migrated, path, progress=False, section_map={"fiscal": "payments-and-fiscal", "restaurant": "f-and-b"}
    )
    assert (report.published, report.problems) == (3, [])
    assert report.sections_created == ["spa-and-wellness", "f-and-b"]
    listed = {s.section.id: s for s in await sections.all()}
    assert "fiscal" not in listed and "restaurant" not in listed
    assert listed["spa-and-wellness"].section.names["en"] == "Spa and wellness"
    assert listed["f-and-b"].section.order > max(s.order for s in DEFAULT_SECTIONS)
    again = await import_path(migrated, path, progress=False)
    assert again.sections_created == ["fiscal", "restaurant"]  # unmapped this time: created as they are
    assert (again.updated, again.unchanged) == (2, 1)
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert r.projection.index.get("kb:fiscal") is not None
        assert r.projection.index.get("kb:fiscal").article.section == "fiscal"  # type: ignore[union-attr]


async def test_an_import_into_a_nats_without_the_article_stream_fails_and_writes_nothing(
    own_nats_server: NatsServer, kb_settings: KbSearchSettings, tmp_path: Path
) -> None:
    from kb_search.entrypoints.cli import ArticleStreamMissing

    path = tmp_path / "one.jsonl"
    path.write_text('{"id": "kb:x", "lang": "en", "section": "settings", "title": "Wi-Fi"}\n', "utf-8")
    foreign = kb_settings.model_copy(
        update={"common": kb_settings.common.model_copy(update={"nats_url": own_nats_server.url})}
    )
    with pytest.raises(ArticleStreamMissing, match=r"no .*KB_ARTICLES stream"):
        await import_path(foreign, path, progress=False)
    assert await stream_names(own_nats_server.url) == []


async def stream_names(url: str) -> list[str]:
    nc = NATS()
    await nc.connect(url)
    try:
        return [str(info.config.name) for info in await nc.jetstream().streams_info()]
    finally:
        await nc.close()


def _helpdesk(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpdesk.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_kb_import_goes_to_the_nats_helpdesk_up_recorded_and_refuses_one_without_the_streams(
    migrated: KbSearchSettings, own_nats_server: NatsServer, tmp_path: Path, replica: Replicas
) -> None:
    """The system's NATS is not on the default port, and another NATS (without the product's
    streams) plays the one that is: the import finds the system through the data dir's record."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    discovery.record(data_dir, nats_url=migrated.common.nats_url, gateway_url="http://127.0.0.1:8700")
    path = tmp_path / "one.jsonl"
    path.write_text('{"id": "kb:found", "lang": "en", "section": "guests", "title": "Guest card"}\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env |= {"HELPDESK_NATS_PREFIX": migrated.common.nats_prefix, "HELPDESK_ENVIRONMENT": "test"}

    done = await asyncio.to_thread(
        _helpdesk,
        "kb",
        "import",
        str(path),
        "--no-progress",
        "--data-dir",
        str(data_dir),
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "published 1" in done.stdout
    assert f"NATS {migrated.common.nats_url} (recorded by `helpdesk up`" in done.stderr
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert "kb:found" in r.projection.index

    # The same through HELPDESK_DATA_DIR, and an explicit --nats-url to a foreign server wins over it.
    foreign = await asyncio.to_thread(
        _helpdesk, "kb", "import", str(path), "--nats-url", own_nats_server.url,
        env={**env, "HELPDESK_DATA_DIR": str(data_dir)}, cwd=tmp_path,
    )  # fmt: skip
    assert foreign.returncode == 2
    assert "has no" in foreign.stderr and "KB_ARTICLES" in foreign.stderr
    assert "published" not in foreign.stdout
    assert await stream_names(own_nats_server.url) == []

    # A record left by a `helpdesk up` that is gone: a clear error, not a hang and not the default.
    discovery.record(data_dir, nats_url="nats://127.0.0.1:9")
    gone = await asyncio.to_thread(_helpdesk, "seed", "--data-dir", str(data_dir), env=env, cwd=tmp_path)
    assert gone.returncode == 2
    assert "no NATS answers at nats://127.0.0.1:9" in gone.stderr
    assert "Is `helpdesk up` running?" in gone.stderr
