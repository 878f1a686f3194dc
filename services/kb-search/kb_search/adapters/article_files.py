"""Article files for bulk import: a JSON Lines file (one article per line) or a folder of Markdown
files with front matter (`---` / `key: value` lines / `---`, then the body).

Each item says where it came from (`file:line`), so a bad one is reported precisely and skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from kb_search.application.importer import SourceItem
from kb_search.domain.article import Article
from kb_search.domain.errors import InvalidArticle

MAX_LINE_BYTES = 1_000_000
_HEADING = re.compile(r"^#\s+(.+)$", re.M)


class UnreadableSource(Exception):
    """Raised when the import path is neither a readable file nor a folder."""


def read_articles(path: Path) -> Iterator[SourceItem]:
    if path.is_dir():
        yield from _markdown_folder(path)
    elif path.is_file():
        if path.suffix.lower() in (".md", ".markdown"):
            yield _markdown_file(path, path.name)
        else:
            yield from _json_lines(path)
    else:
        raise UnreadableSource(f"{path} is neither a file nor a folder")


def count_items(path: Path) -> int | None:
    """How many items `read_articles` will yield (for the progress bar), when cheap to know."""
    if path.is_dir():
        return sum(1 for _ in _markdown_paths(path))
    if path.is_file() and path.suffix.lower() not in (".md", ".markdown"):
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    return 1 if path.is_file() else None


def _json_lines(path: Path) -> Iterator[SourceItem]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            location = f"{path.name}:{number}"
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield SourceItem(location, problem=f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                yield SourceItem(location, problem=f"not valid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield SourceItem(location, problem="not a JSON object")
                continue
            yield _validated(location, value)


def _validated(location: str, value: dict[str, object]) -> SourceItem:
    try:
        return SourceItem(location, article=Article.from_mapping(value))
    except InvalidArticle as exc:
        return SourceItem(location, problem=str(exc))


def _markdown_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown"))


def _markdown_folder(folder: Path) -> Iterator[SourceItem]:
    for path in _markdown_paths(folder):
        yield _markdown_file(path, str(path.relative_to(folder)))


def _markdown_file(path: Path, location: str) -> SourceItem:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SourceItem(location, problem=f"unreadable: {exc}")
    try:
        meta, body = parse_front_matter(text)
    except ValueError as exc:
        return SourceItem(location, problem=str(exc))
    if "title" not in meta:
        heading = _HEADING.search(body)
        if heading:
            meta["title"] = heading.group(1).strip()
    meta["body"] = body.strip()
    return _validated(location, meta)


def parse_front_matter(text: str) -> tuple[dict[str, object], str]:
    """`key: value`, `key: [a, b]` and `key:` followed by `- item` lines; quotes optional."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("no front matter (the file must start with a '---' line)")
    meta: dict[str, object] = {}
    current_list: list[str] | None = None
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() in ("---", "..."):
            return meta, "\n".join(lines[number:])
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        stripped = line.strip()
        if stripped.startswith("- ") and current_list is not None:
            current_list.append(_unquote(stripped[2:]))
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or key != key.lstrip():
            raise ValueError(f"front matter line {number} is not 'key: value'")
        value = value.strip()
        if not value:
            current_list = []
            meta[key.strip()] = current_list
        elif value.startswith("[") and value.endswith("]"):
            current_list = None
            meta[key.strip()] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            current_list = None
            meta[key.strip()] = _unquote(value)
    raise ValueError("front matter is not closed by a '---' line")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
