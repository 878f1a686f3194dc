"""`helpdesk kb import PATH`: bulk import of a JSON Lines file or a folder of Markdown files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kb_search.adapters.article_files import UnreadableSource, count_items, read_articles
from kb_search.application.importer import ImportReport, SourceItem, import_articles
from kb_search.settings import KbSearchSettings
from shared.contracts.envelope import SYSTEM_ACTOR


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
    importer.set_defaults(func=import_command)


def import_command(args: argparse.Namespace) -> int:
    from kb_search.bootstrap import load_settings

    settings = load_settings()
    try:
        report = asyncio.run(
            import_path(settings, args.path, progress=not args.no_progress and sys.stderr.isatty())
        )
    except UnreadableSource as exc:
        sys.stderr.write(f"kb import: {exc}\n")
        return 2
    print_report(report)
    return 1 if args.strict and report.problems else 0


async def import_path(settings: KbSearchSettings, path: Path, *, progress: bool = True) -> ImportReport:
    """Import `path` into the article stream (creating the stream if it is missing)."""
    from kb_search.bootstrap import article_log_session, migrate

    await migrate(settings)
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

            return await import_articles(commands, items, actor=SYSTEM_ACTOR, on_item=on_item)


def print_report(report: ImportReport) -> None:
    sys.stdout.write(
        f"published {report.published}, updated {report.updated}, unchanged {report.unchanged}, "
        f"bad {len(report.problems)}\n"
    )
    for location, problem in report.problems:
        sys.stderr.write(f"  {location}: {problem}\n")
