"""The article stream on a real nats-server: concurrency, de-duplication, replicas, import, poison."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from kb_search.adapters.article_files import read_articles
from kb_search.adapters.article_log import kb_stream_name
from kb_search.application.commands import KbCommands
from kb_search.application.importer import import_articles
from kb_search.application.ports import ArticleEvent, Origin
from kb_search.domain.article import Article
from kb_search.domain.errors import VersionConflict
from kb_search.entrypoints.cli import import_path
from kb_search.settings import KbSearchSettings
from shared.contracts.envelope import SYSTEM_ACTOR
from shared.contracts.kb import article_subject
from shared.contracts.subjects import with_prefix
from tests.integration.kb_search.conftest import Replica, Replicas

pytestmark = pytest.mark.integration

WAIT = 10.0


def article(n: int, **changes: object) -> Article:
    raw = {"id": f"kb:{n}", "lang": "uk", "section": "reports", "title": f"Нічний аудит {n}",
           "body": f"Звіти нічного аудиту, стаття {n}."}  # fmt: skip
    return Article.from_mapping({**raw, **changes})


async def last_seq(nc: NATS, settings: KbSearchSettings) -> int:
    info = await nc.jetstream().stream_info(kb_stream_name(settings.common.nats_prefix))
    return int(info.state.last_seq)


async def ids(replica: Replica, query: str) -> list[str]:
    return [h.id for h in replica.projection.index.search(query, lang="uk", limit=50).hits]


async def test_two_writers_with_the_same_read_version_cannot_both_win(commands: KbCommands, nc: NATS) -> None:
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    log = commands._log
    state = await log.state("kb:1")
    outcomes = await asyncio.gather(
        *(
            log.append(ArticleEvent(article_id="kb:1", event_type="article.updated",
                                    data=_data(article(1, body=f"v{i}")), version=2, expected=state,
                                    event_key=f"w{i}", origin=Origin(SYSTEM_ACTOR, None)))
            for i in range(2)
        ),
        return_exceptions=True,
    )  # fmt: skip
    assert sorted(type(o).__name__ for o in outcomes) == ["Appended", "VersionConflict"]


def _data(a: Article):  # type: ignore[no-untyped-def]
    from shared.contracts.kb_v2 import ArticleUpdatedV2

    return ArticleUpdatedV2(article_id=a.id, lang=a.lang, section=a.section, title=a.title, body=a.body,
                          content_hash=a.content_hash)  # fmt: skip


async def test_a_stale_update_is_a_version_conflict(commands: KbCommands) -> None:
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    await commands.update(article(1, body="v2"), actor=SYSTEM_ACTOR, expected_version=1)
    with pytest.raises(VersionConflict):
        await commands.update(article(1, body="v3"), actor=SYSTEM_ACTOR, expected_version=1)


async def test_the_same_write_sent_twice_is_stored_once(
    commands: KbCommands, nc: NATS, migrated: KbSearchSettings
) -> None:
    before = await last_seq(nc, migrated)  # the default sections
    first, second = await asyncio.gather(
        commands.upsert(article(1), actor=SYSTEM_ACTOR), commands.upsert(article(1), actor=SYSTEM_ACTOR)
    )
    assert first.version == second.version == 1
    assert await last_seq(nc, migrated) == before + 1


async def test_every_event_on_the_stream_has_its_event_id_as_its_nats_msg_id(
    commands: KbCommands, nc: NATS, migrated: KbSearchSettings
) -> None:
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    await commands.update(article(1, body="v2"), actor=SYSTEM_ACTOR, expected_version=1)
    await commands.feedback("kb:1", helpful=True, comment="", actor=SYSTEM_ACTOR, account_id="hotel-1")
    await commands.retire("kb:1", actor=SYSTEM_ACTOR)
    js = nc.jetstream()
    stream = kb_stream_name(migrated.common.nats_prefix)
    last = await last_seq(nc, migrated)
    types = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.data is not None and msg.headers is not None
        body = json.loads(msg.data)
        assert msg.headers["Nats-Msg-Id"] == body["event_id"], body["type"]
        types.append(body["type"])
    assert {"section.created", "article.published", "article.updated", "article.feedback_given"} <= set(types)
    assert "article.retired" in types


async def test_two_replicas_converge_and_a_retired_article_vanishes_from_both(
    commands: KbCommands, replica: Replicas
) -> None:
    async with replica() as a, replica() as b:
        assert await a.follower.wait_caught_up(WAIT)
        assert await b.follower.wait_caught_up(WAIT)
        for n in range(1, 6):
            await commands.publish(article(n), actor=SYSTEM_ACTOR)
        await commands.update(article(3, title="Закриття дня"), actor=SYSTEM_ACTOR)
        retired = await commands.retire("kb:2", actor=SYSTEM_ACTOR)
        for r in (a, b):
            assert await r.projection.wait_for(retired.sequence, within=WAIT)
        assert await ids(a, "нічний аудит") == await ids(b, "нічний аудит")
        assert set(await ids(a, "аудит")) == {"kb:1", "kb:3", "kb:4", "kb:5"}
        assert await ids(b, "закриття") == ["kb:3"]
        assert [h.score for h in a.projection.index.search("аудит").hits] == [
            h.score for h in b.projection.index.search("аудит").hits
        ]


async def test_a_new_replica_catches_up_from_the_start_of_the_stream(
    commands: KbCommands, replica: Replicas
) -> None:
    for n in range(1, 21):
        await commands.publish(article(n), actor=SYSTEM_ACTOR)
    await commands.retire("kb:7", actor=SYSTEM_ACTOR)
    await commands.update(article(3, body="Оновлений текст статті 3."), actor=SYSTEM_ACTOR)
    async with replica() as late:
        assert await late.follower.wait_caught_up(WAIT)
        assert len(late.projection.index) == 19
        assert "kb:7" not in late.projection.index
        # The bodies too, from the replica's own body file, made again from the stream.
        for n in (n for n in range(1, 21) if n != 7):
            doc = late.projection.index.get(f"kb:{n}")
            assert doc is not None
            assert doc.article == (article(3, body="Оновлений текст статті 3.") if n == 3 else article(n))


async def test_importing_a_file_twice_changes_nothing_on_the_stream(
    migrated: KbSearchSettings, nc: NATS, tmp_path: Path, replica: Replicas
) -> None:
    path = tmp_path / "articles.jsonl"
    lines = [
        '{"id": "kb:a", "lang": "en", "section": "reports", "title": "Night audit", "body": "Closes."}',
        '{"id": "kb:b", "lang": "xx", "section": "reports", "title": "Bad language"}',
        "not json at all",
        '{"id": "kb:c", "lang": "pl", "section": "guests", "title": "Karta gościa", "body": "Dane gościa."}',
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    before = await last_seq(nc, migrated)
    first = await import_path(migrated, path, progress=False)
    sequence = await last_seq(nc, migrated)
    second = await import_path(migrated, path, progress=False)
    assert (first.published, [loc for loc, _ in first.problems]) == (
        2,
        ["articles.jsonl:2", "articles.jsonl:3"],
    )
    assert (second.published, second.updated, second.unchanged) == (0, 0, 2)
    assert await last_seq(nc, migrated) == sequence == before + 2
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert r.projection.index.search("karta gościa", lang="pl").hits[0].id == "kb:c"


async def test_a_poison_message_is_dead_lettered_and_the_index_goes_on(
    commands: KbCommands, nc: NATS, migrated: KbSearchSettings, replica: Replicas
) -> None:
    prefix = migrated.common.nats_prefix
    js = nc.jetstream()
    await js.publish(with_prefix(prefix, article_subject("kb:bad")), b"{not an envelope")
    await commands.publish(article(1), actor=SYSTEM_ACTOR)
    dlq = await js.subscribe(with_prefix(prefix, "helpdesk.dlq.>"), ordered_consumer=True)
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert "kb:1" in r.projection.index
        parked = await dlq.next_msg(timeout=WAIT)
        assert parked.headers is not None
        assert "Helpdesk-Dead-Letter-Reason" in parked.headers
    await dlq.unsubscribe()


async def test_the_demo_articles_import_into_a_searchable_index(
    commands: KbCommands, replica: Replicas
) -> None:
    from kb_search.settings import DEMO_DIR

    path = DEMO_DIR / "articles.jsonl"
    if not path.is_file():
        pytest.fail("the demo articles are missing")
    report = await import_articles(commands, read_articles(path), actor=SYSTEM_ACTOR)
    assert report.published >= 40
    assert not report.problems
    async with replica() as r:
        assert await r.follower.wait_caught_up(WAIT)
        assert len(r.projection.index) == report.published


async def test_the_kb_import_command_is_wired_for_the_helpdesk_cli(
    migrated: KbSearchSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from kb_search.bootstrap import SERVICE

    assert SERVICE.add_cli_commands is not None
    parser = argparse.ArgumentParser()
    SERVICE.add_cli_commands(parser.add_subparsers(dest="command"))
    path = tmp_path / "one.jsonl"
    path.write_text(
        '{"id": "kb:x", "lang": "en", "section": "settings", "title": "Wi-Fi"}\n{broken\n', "utf-8"
    )
    args = parser.parse_args(["kb", "import", str(path), "--strict"])
    common = migrated.common
    monkeypatch.setenv("HELPDESK_NATS_URL", common.nats_url)
    monkeypatch.setenv("HELPDESK_NATS_PREFIX", common.nats_prefix)
    # The command runs its own event loop, as `helpdesk kb import` does.
    status = await asyncio.to_thread(args.func, args)
    out, err = capsys.readouterr()
    assert status == 1  # --strict: one bad line
    assert "published 1, updated 0, unchanged 0, bad 1" in out
    assert "one.jsonl:2" in err
