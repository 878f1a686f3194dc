"""Section rules, article URLs, the import's section map, body HTML and which NATS a command uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk import discovery
from kb_search.application.commands import KbCommands
from kb_search.application.importer import SourceItem, import_articles
from kb_search.application.ports import Appended, SectionEvent
from kb_search.application.sections import SectionCommands
from kb_search.domain.article import Article, url_problem
from kb_search.domain.errors import (
    InvalidArticle,
    InvalidSection,
    SectionAlreadyExists,
    SectionNotFound,
    SectionVersionConflict,
    UnknownSection,
)
from kb_search.domain.section import DEFAULT_SECTIONS, Section, SectionState, section_id_from
from kb_search.entrypoints.cli import parse_section_map
from kb_search.entrypoints.markdown_html import render_markdown
from shared.contracts.envelope import SYSTEM_ACTOR
from tests.unit.kb_search.test_kb_search_commands import RAW, MemoryLog

pytestmark = pytest.mark.unit

NAMES = {"uk": "Спа", "ru": "Спа", "en": "Spa", "pl": "Spa"}


class MemorySections:
    """The section log's contract: per-section expected sequence."""

    def __init__(self) -> None:
        self.states: dict[str, SectionState] = {}
        self.sequence = 0

    async def state(self, section_id: str) -> SectionState | None:
        return self.states.get(section_id)

    async def all(self) -> list[SectionState]:
        return list(self.states.values())

    async def append(self, event: SectionEvent) -> Appended:
        section, version, expected = event.section, event.version, event.expected
        current = self.states.get(section.id)
        if (current and current.sequence) != (expected and expected.sequence):
            raise SectionVersionConflict(section.id, expected=None, actual=None)
        self.sequence += 1
        retired = event.event_type == "section.retired"
        self.states[section.id] = SectionState(section, version, retired, sequence=self.sequence)
        return Appended(sequence=self.sequence, duplicate=False)


@pytest.fixture
def sections() -> SectionCommands:
    return SectionCommands(MemorySections(), list_ttl=0)


async def test_the_defaults_are_created_once_and_a_retired_one_is_not_brought_back(
    sections: SectionCommands,
) -> None:
    assert len(await sections.ensure_defaults(actor=SYSTEM_ACTOR)) == 10
    await sections.retire("housekeeping", actor=SYSTEM_ACTOR)
    assert await sections.ensure_defaults(actor=SYSTEM_ACTOR) == []
    assert [s.section.id for s in await sections.all() if s.retired] == ["housekeeping"]
    assert {d.names["pl"] for d in DEFAULT_SECTIONS} >= {"Rezerwacje", "Raporty"}


async def test_a_section_lifecycle_with_expected_versions(sections: SectionCommands) -> None:
    spa = Section.of("spa", NAMES, 5)
    assert (await sections.create(spa, actor=SYSTEM_ACTOR)).version == 1
    assert not (await sections.create(spa, actor=SYSTEM_ACTOR)).changed
    with pytest.raises(SectionAlreadyExists):
        await sections.create(Section.of("spa", {**NAMES, "en": "Wellness"}, 5), actor=SYSTEM_ACTOR)
    renamed = Section.of("spa", {**NAMES, "en": "Spa and wellness"}, 5)
    assert (await sections.update(renamed, actor=SYSTEM_ACTOR, expected_version=1)).version == 2
    with pytest.raises(SectionVersionConflict) as stale:
        await sections.update(Section.of("spa", NAMES, 1), actor=SYSTEM_ACTOR, expected_version=1)
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with pytest.raises(SectionVersionConflict):
        await sections.retire("spa", actor=SYSTEM_ACTOR, expected_version=1)
    assert (await sections.retire("spa", actor=SYSTEM_ACTOR, expected_version=2)).version == 3
    with pytest.raises(SectionNotFound):
        await sections.update(renamed, actor=SYSTEM_ACTOR)
    with pytest.raises(UnknownSection):
        await sections.check_live("spa")
    assert (await sections.create(spa, actor=SYSTEM_ACTOR)).version == 4


@pytest.mark.parametrize(
    ("section_id", "names", "order", "fields"),
    [
        ("Spa", NAMES, 0, ["id"]),
        ("spa--bar", NAMES, 0, ["id"]),
        ("s" * 65, NAMES, 0, ["id"]),
        ("spa", {**NAMES, "pl": " "}, 0, ["names.pl"]),
        ("spa", {**NAMES, "de": "Spa"}, 0, ["names"]),
        ("spa", NAMES, -1, ["order"]),
        ("spa", NAMES, True, ["order"]),
    ],
)
def test_a_section_needs_a_slug_id_four_names_and_an_order(
    section_id: str, names: dict[str, str], order: object, fields: list[str]
) -> None:
    with pytest.raises(InvalidSection) as raised:
        Section.of(section_id, names, order)
    assert [p.split(":")[0] for p in raised.value.problems] == fields


def test_a_section_id_is_made_from_any_label() -> None:
    assert section_id_from("  Spa & Wellness!  ") == "spa-wellness"
    assert Section.named_after("spa-wellness", order=3).names["uk"] == "Spa wellness"


async def test_publishing_needs_a_live_section_and_an_import_creates_or_maps_one(
    sections: SectionCommands,
) -> None:
    await sections.ensure_defaults(actor=SYSTEM_ACTOR)
    commands = KbCommands(MemoryLog(), sections)
    with pytest.raises(UnknownSection):
        await commands.publish(Article.from_mapping({**RAW, "section": "spa"}), actor=SYSTEM_ACTOR)
    items = [
        SourceItem("a.jsonl:1", article=Article.from_mapping({**RAW, "id": "kb:1", "section": "spa"})),
        SourceItem(
            "a.jsonl:2", article=Article.from_mapping({**RAW, "id": "kb:2", "section": "old-reports"})
        ),
        SourceItem("a.jsonl:3", article=Article.from_mapping({**RAW, "id": "kb:3", "section": "spa"})),
    ]
    report = await import_articles(
        commands, items, actor=SYSTEM_ACTOR, section_map={"old-reports": "reports"}
    )
    assert (report.published, report.problems, report.sections_created) == (3, [], ["spa"])
    assert (await sections.live("spa")).section.order == 110


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://wiki.otelms.com/a", True),
        ("http://localhost:8080/x?y=1#z", True),
        ("HTTPS://WIKI.OTELMS.COM", True),
        ("javascript:alert(1)", False),
        ("jAvAsCrIpT:alert(1)", False),
        ("data:text/html,x", False),
        ("ftp://x/y", False),
        ("mailto:a@b.c", False),
        ("//host/x", False),
        ("https:/x", False),
        ("https://", False),
        ("https://a.b/\nx", False),
    ],
)
def test_only_absolute_http_and_https_urls_are_article_links(url: str, ok: bool) -> None:
    assert (url_problem(url) == "") is ok
    if not ok:
        with pytest.raises(InvalidArticle) as raised:
            Article.from_mapping({**RAW, "url": url})
        assert raised.value.problems[0].startswith("url: ")


def test_the_section_map_reads_pairs_and_names_a_bad_one() -> None:
    assert parse_section_map(["a=b", " c = d , e=f-g"]) == {"a": "b", "c": "d", "e": "f-g"}
    for bad in (["a"], ["a=B C"], ["=b"]):
        with pytest.raises(ValueError, match="--section-map"):
            parse_section_map(bad)


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "![x](javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<a href='javascript:x'>y</a>",
        "[x](vbscript:msgbox)",
        "<svg onload=alert(1)>",
    ],
)
def test_hostile_markdown_renders_without_active_markup(body: str) -> None:
    html = render_markdown(body).lower()
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert "<a " not in html  # typed markup shows as escaped text


def test_links_get_noopener_and_only_safe_schemes() -> None:
    html = render_markdown("[a](https://x.y/p) [b](mailto:h@x.y) [c](/relative) [d](ftp://x)")
    assert html.count('rel="noopener noreferrer"') == 2
    assert "/relative" in html and 'href="/relative"' not in html


def test_a_command_uses_the_flag_then_the_environment_then_the_record_then_the_default(
    tmp_path: Path,
) -> None:
    choose = discovery.choose_nats_url
    assert choose(explicit=None, data_dir=tmp_path, environ={}).url == "nats://127.0.0.1:4222"
    discovery.record(tmp_path, nats_url="nats://127.0.0.1:4334", gateway_url="http://127.0.0.1:8700")
    recorded = choose(explicit=None, data_dir=tmp_path, environ={})
    assert recorded.url == "nats://127.0.0.1:4334" and "helpdesk up" in recorded.source
    assert (
        choose(explicit=None, data_dir=tmp_path, environ={"HELPDESK_NATS_URL": "nats://e:1"}).url
        == "nats://e:1"
    )
    assert choose(
        explicit="nats://f:2", data_dir=tmp_path, environ={"HELPDESK_NATS_URL": "nats://e:1"}
    ).url == ("nats://f:2")
    assert discovery.data_dir_of(None, {"HELPDESK_DATA_DIR": str(tmp_path)}) == tmp_path
    discovery.forget(tmp_path)
    assert discovery.recorded(tmp_path) is None
