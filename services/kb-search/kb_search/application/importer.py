"""Bulk import: every valid article is upserted (published, updated or left alone when unchanged);
every bad one is reported with where it came from and skipped. An article's section goes through
`section_map` first (`old id → new id`); a section that is not live is then created (a retired one
comes back), and the report names it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from kb_search.application.commands import KbCommands
from kb_search.domain.article import Article, Change
from kb_search.domain.errors import KbError
from shared.contracts.envelope import Actor


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One article read from an import source, or why it could not be read; `location` is `file:line`."""

    location: str
    article: Article | None = None
    problem: str = ""


@dataclass
class ImportReport:
    published: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    last_sequence: int = 0
    sections_created: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.published + self.updated


async def import_articles(
    commands: KbCommands,
    items: Iterable[SourceItem],
    *,
    actor: Actor,
    on_item: Callable[[SourceItem, str], None] | None = None,
    section_map: Mapping[str, str] | None = None,
) -> ImportReport:
    """Upsert each item in order; `on_item(item, outcome)` after each one (progress, logging)."""
    report = ImportReport()
    seen: set[str] = set()
    live: set[str] = set()
    for item in items:
        if item.article is not None and section_map and item.article.section in section_map:
            item = replace(item, article=item.article.in_section(section_map[item.article.section]))
        if item.article is None:
            report.problems.append((item.location, item.problem))
            outcome = "bad"
        elif item.article.id in seen:
            report.problems.append((item.location, f"duplicate id {item.article.id!r} in this import"))
            outcome = "bad"
        else:
            seen.add(item.article.id)
            try:
                section = item.article.section
                if commands.sections is not None and section not in live:
                    if await commands.sections.ensure(section, actor=actor):
                        report.sections_created.append(section)
                    live.add(section)
                result = await commands.upsert(item.article, actor=actor)
            except KbError as exc:
                report.problems.append((item.location, str(exc)))
                outcome = "bad"
            else:
                report.last_sequence = max(report.last_sequence, result.sequence)
                if not result.changed:
                    report.unchanged += 1
                    outcome = "unchanged"
                elif result.change is Change.UPDATED:
                    report.updated += 1
                    outcome = "updated"
                else:
                    report.published += 1
                    outcome = "published"
        if on_item is not None:
            on_item(item, outcome)
    return report
