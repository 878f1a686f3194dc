"""Article lifecycle rules, the editors' commands and bulk import, over an in-memory article log."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_search.adapters.article_files import parse_front_matter, read_articles
from kb_search.application.commands import KbCommands
from kb_search.application.importer import import_articles
from kb_search.application.ports import Appended, ArticleEvent, FeedbackEvent
from kb_search.domain.article import Article, ArticleState, Change
from kb_search.domain.errors import ArticleAlreadyPublished, ArticleNotFound, InvalidArticle, VersionConflict
from shared.contracts.envelope import SYSTEM_ACTOR
from shared.contracts.kb import ArticleContent, KbEventData

pytestmark = pytest.mark.unit

RAW = {"id": "kb:a", "lang": "en", "section": "reports", "title": "Night audit", "body": "Closes the day."}


class MemoryLog:
    """The article log's contract: per-article expected sequence and de-duplication by message id."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, KbEventData, int]] = []  # (article id, type, data, version)
        self.states: dict[str, ArticleState] = {}
        self.event_keys: set[str] = set()
        self.race_before_next_append = False

    async def state(self, article_id: str) -> ArticleState | None:
        return self.states.get(article_id)

    async def append(self, event: ArticleEvent) -> Appended:
        article_id, event_type, data, version = event.article_id, event.event_type, event.data, event.version
        expected, event_key = event.expected, event.event_key
        if event_key in self.event_keys:
            return Appended(sequence=len(self.events), duplicate=True)
        current = self.states.get(article_id)
        if self.race_before_next_append or (current and current.sequence) != (expected and expected.sequence):
            self.race_before_next_append = False
            raise VersionConflict(article_id, expected=None, actual=None)
        self.event_keys.add(event_key)
        self.events.append((article_id, event_type, data, version))
        content_hash = data.content_hash if isinstance(data, ArticleContent) else ""
        self.states[article_id] = ArticleState(
            version, event_type == Change.RETIRED.value, content_hash, sequence=len(self.events)
        )
        return Appended(sequence=len(self.events), duplicate=False)

    async def append_feedback(self, feedback: FeedbackEvent) -> Appended:
        self.events.append((feedback.article_id, "article.feedback_given", feedback.data, 1))
        return Appended(sequence=len(self.events), duplicate=False)


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def commands(log: MemoryLog) -> KbCommands:
    return KbCommands(log)


def test_an_article_needs_an_id_a_title_a_known_language_and_a_section_id() -> None:
    with pytest.raises(InvalidArticle) as raised:
        Article.from_mapping({"id": " ", "lang": "de", "section": "kitchen & bar", "tags": "a,b"})
    assert len(raised.value.problems) == 4


def test_the_content_hash_ignores_the_order_of_tags_and_changes_with_the_body() -> None:
    a = Article.from_mapping({**RAW, "tags": ["x", "y"]})
    assert a.content_hash == Article.from_mapping({**RAW, "tags": ["y", "x"]}).content_hash
    assert a.content_hash != Article.from_mapping({**RAW, "tags": ["x", "y"], "body": "Other."}).content_hash


def test_a_missing_slug_is_made_from_the_title() -> None:
    assert Article.from_mapping(RAW).slug == "night-audit"


async def test_publishing_twice_with_the_same_content_changes_nothing(
    commands: KbCommands, log: MemoryLog
) -> None:
    first = await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    again = await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    assert (first.changed, first.version) == (True, 1)
    assert (again.changed, again.version) == (False, 1)
    assert len(log.events) == 1


async def test_publishing_other_content_under_a_live_id_is_refused(commands: KbCommands) -> None:
    await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    with pytest.raises(ArticleAlreadyPublished):
        await commands.publish(Article.from_mapping({**RAW, "body": "New."}), actor=SYSTEM_ACTOR)


async def test_an_update_with_a_stale_version_is_refused(commands: KbCommands) -> None:
    await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    await commands.update(Article.from_mapping({**RAW, "body": "v2"}), actor=SYSTEM_ACTOR, expected_version=1)
    with pytest.raises(VersionConflict) as raised:
        await commands.update(
            Article.from_mapping({**RAW, "body": "v3"}), actor=SYSTEM_ACTOR, expected_version=1
        )
    assert (raised.value.expected, raised.value.actual) == (1, 2)


async def test_a_concurrent_write_between_read_and_append_is_a_conflict(
    commands: KbCommands, log: MemoryLog
) -> None:
    await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    log.race_before_next_append = True
    with pytest.raises(VersionConflict):
        await commands.update(Article.from_mapping({**RAW, "body": "v2"}), actor=SYSTEM_ACTOR)


async def test_updating_or_retiring_an_unknown_article_is_not_found(commands: KbCommands) -> None:
    with pytest.raises(ArticleNotFound):
        await commands.update(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    with pytest.raises(ArticleNotFound):
        await commands.retire("kb:a", actor=SYSTEM_ACTOR)


async def test_a_retired_article_can_be_published_again_as_a_new_version(commands: KbCommands) -> None:
    await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    retired = await commands.retire("kb:a", actor=SYSTEM_ACTOR)
    with pytest.raises(ArticleNotFound):
        await commands.update(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    again = await commands.publish(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    assert (retired.version, again.version, again.change) == (2, 3, Change.PUBLISHED)


async def test_feedback_on_a_missing_article_is_not_found(commands: KbCommands) -> None:
    with pytest.raises(ArticleNotFound):
        await commands.feedback("kb:none", helpful=True, comment="", actor=SYSTEM_ACTOR, account_id="h")


async def test_an_upsert_retries_after_a_concurrent_write(commands: KbCommands, log: MemoryLog) -> None:
    log.race_before_next_append = True
    result = await commands.upsert(Article.from_mapping(RAW), actor=SYSTEM_ACTOR)
    assert result.changed


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_an_import_skips_bad_lines_with_their_numbers_and_imports_the_rest(
    commands: KbCommands, tmp_path: Path
) -> None:
    good = '{"id": "kb:%s", "lang": "uk", "section": "guests", "title": "Т %s", "body": "Текст"}'
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [good % (1, 1), "{not json", good % (2, 2), '{"id": "kb:3", "lang": "xx", "section": "guests"}',
         "[1, 2]",
         "", good % (1, 1)],
    )  # fmt: skip
    report = await import_articles(commands, read_articles(path), actor=SYSTEM_ACTOR)
    assert report.published == 2
    assert [location for location, _ in report.problems] == [
        "a.jsonl:2",
        "a.jsonl:4",
        "a.jsonl:5",
        "a.jsonl:7",
    ]
    assert "duplicate id" in report.problems[-1][1]


async def test_importing_the_same_file_twice_changes_nothing(
    commands: KbCommands, log: MemoryLog, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [f'{{"id": "kb:{i}", "lang": "en", "section": "reports", "title": "T{i}"}}' for i in range(5)],
    )
    first = await import_articles(commands, read_articles(path), actor=SYSTEM_ACTOR)
    second = await import_articles(commands, read_articles(path), actor=SYSTEM_ACTOR)
    assert (first.published, second.published, second.updated, second.unchanged) == (5, 0, 0, 5)
    assert len(log.events) == 5


async def test_a_changed_line_is_imported_as_an_update(commands: KbCommands, tmp_path: Path) -> None:
    line = '{"id": "kb:1", "lang": "en", "section": "reports", "title": "%s"}'
    await import_articles(
        commands, read_articles(write_jsonl(tmp_path / "a.jsonl", [line % "A"])), actor=SYSTEM_ACTOR
    )
    report = await import_articles(
        commands, read_articles(write_jsonl(tmp_path / "a.jsonl", [line % "B"])), actor=SYSTEM_ACTOR
    )
    assert report.updated == 1


def test_a_markdown_folder_is_read_with_its_front_matter(tmp_path: Path) -> None:
    (tmp_path / "uk").mkdir()
    (tmp_path / "uk" / "a.md").write_text(
        "---\nid: otelms-kb:a\nlang: uk\nsection: guests\ntags: [гість, картка]\n"
        "translations:\n  - otelms-kb:a-en\n"
        "---\n# Картка гостя\n\nТекст статті.\n",
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("no front matter\n", encoding="utf-8")
    items = list(read_articles(tmp_path))
    assert [i.location for i in items] == ["b.md", "uk/a.md"]
    assert "front matter" in items[0].problem
    article = items[1].article
    assert article is not None
    assert (article.title, article.tags, article.translations) == (
        "Картка гостя",
        ("гість", "картка"),
        ("otelms-kb:a-en",),
    )


def test_front_matter_must_be_closed() -> None:
    with pytest.raises(ValueError, match="not closed"):
        parse_front_matter("---\nid: x\n")
