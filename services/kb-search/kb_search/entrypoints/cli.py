"""`helpdesk kb import PATH`: bulk import of a JSON Lines file or a folder of Markdown files into the
article stream of a running (migrated) system; sections it does not know are created, or mapped
onto others with `--section-map old=new`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from tqdm import tqdm

from kb_search.adapters.article_files import UnreadableSource, count_items, read_articles
from kb_search.adapters.article_log import kb_stream_name
from kb_search.adapters.editing import article_log_session
from kb_search.application.importer import ImportReport, SourceItem, import_articles
from kb_search.domain.section import section_id_problem
from kb_search.settings import KbSearchSettings
from shared.contracts.envelope import SYSTEM_ACTOR
from shared.nats import connection_options

CHECK_SECONDS = 5.0


class ArticleStreamMissing(Exception):
    """Raised when the NATS an import talks to has no article stream (not this system's, or never
    migrated): nothing is written there."""


def add_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    kb = subparsers.add_parser("kb", help="knowledge base: import articles")
    commands = kb.add_subparsers(dest="kb_command", required=True)
    importer = commands.add_parser(
        "import",
        help="import articles from a JSON Lines file or a folder of Markdown files with front matter",
    )
    importer.add_argument("path", type=Path, help="a .jsonl file, a .md file or a folder of .md files")
    importer.add_argument("--strict", action="store_true", help="exit with status 1 if any item was bad")
    importer.add_argument("--no-progress", action="store_true", help="no progress bar")
    importer.add_argument(
        "--section-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="put the articles of section OLD into section NEW (repeat, or comma-separate, for more); "
        "a section that does not exist is created",
    )
    importer.set_defaults(func=import_command)


def parse_section_map(values: list[str]) -> dict[str, str]:
    """`["a=b", "c=d,e=f"]` → `{"a": "b", "c": "d", "e": "f"}`; `ValueError` naming a bad pair."""
    mapping: dict[str, str] = {}
    for pair in (p.strip() for value in values for p in value.split(",")):
        if not pair:
            continue
        old, sep, new = (part.strip().lower() for part in pair.partition("="))
        problem = "" if sep else "must be OLD=NEW"
        problem = problem or section_id_problem(old) or section_id_problem(new)
        if problem:
            raise ValueError(f"--section-map {pair!r}: {problem}")
        mapping[old] = new
    return mapping


def import_command(args: argparse.Namespace) -> int:
    settings = KbSearchSettings()
    try:
        section_map = parse_section_map(args.section_map)
        report = asyncio.run(
            import_path(
                settings,
                args.path,
                progress=not args.no_progress and sys.stderr.isatty(),
                section_map=section_map,
            )
        )
    except (UnreadableSource, ArticleStreamMissing, ValueError) as exc:
        sys.stderr.write(f"kb import: {exc}\n")
        return 2
    print_report(report)
    return 1 if args.strict and report.problems else 0


async def import_path(
    settings: KbSearchSettings,
    path: Path,
    *,
    progress: bool = True,
    section_map: dict[str, str] | None = None,
) -> ImportReport:
    """Import `path` into the article stream; `ArticleStreamMissing` (and nothing written) when the
    NATS has no article stream."""
    await check_article_stream(settings)
    total = count_items(path)
    items = read_articles(path)
    async with article_log_session(settings, name="kb-import") as commands:
        with tqdm(total=total, unit="article", disable=not progress, file=sys.stderr) as bar:

            def on_item(item: SourceItem, outcome: str) -> None:
                bar.update(1)
                if outcome == "bad":
                    tqdm.write(
                        f"skipped {item.location}: {item.problem or 'see the summary'}", file=sys.stderr
                    )

            return await import_articles(
                commands, items, actor=SYSTEM_ACTOR, on_item=on_item, section_map=section_map
            )


async def check_article_stream(settings: KbSearchSettings) -> None:
    """`ArticleStreamMissing` unless the NATS answers and holds the article stream."""
    stream = kb_stream_name(settings.common.nats_prefix)
    nc = NATS()
    options = {**connection_options(settings.common, name="kb-import-check"), "allow_reconnect": False}
    try:
        await asyncio.wait_for(nc.connect(**options), CHECK_SECONDS)
        await nc.jetstream(timeout=CHECK_SECONDS).stream_info(stream)
    except (NotFoundError, NatsError, OSError, TimeoutError):
        raise ArticleStreamMissing(
            f"the NATS at {settings.common.nats_url} has no {stream} stream: it is not this system's, "
            "or it was never migrated (`helpdesk migrate kb-search`); nothing was imported"
        ) from None
    finally:
        if nc.is_connected:
            await nc.close()


def print_report(report: ImportReport) -> None:
    sys.stdout.write(
        f"published {report.published}, updated {report.updated}, unchanged {report.unchanged}, "
        f"bad {len(report.problems)}\n"
    )
    if report.sections_created:
        sys.stdout.write(f"sections created: {', '.join(report.sections_created)}\n")
    for location, problem in report.problems:
        sys.stderr.write(f"  {location}: {problem}\n")
