"""Plain text from Markdown, and snippets with the matched words wrapped in `<mark>`.

Article text is HTML-escaped before `<mark>` is added, so a snippet is safe to insert as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache

from kb_search.search.normalise import word_spans

_CODE_FENCE = re.compile(r"```.*?```", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]{1,200}>")
_BLOCK_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s*|>\s*|[-*+]\s+|\d+[.)]\s+)|\|", re.M)
_INLINE_MARKUP = re.compile(r"[*_`~]+")
_SPACES = re.compile(r"\s+")
SNIPPET_CHARS = 200
MAX_SCAN_CHARS = 2_000  # snippets come from the start of long articles


def markdown_to_text(markdown: str) -> str:
    text = _CODE_FENCE.sub(" ", markdown)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _BLOCK_MARKUP.sub(" ", text)
    text = _INLINE_MARKUP.sub("", text)
    return _SPACES.sub(" ", text).strip()


def match_spans(text: str, *, is_match: Callable[[str], bool]) -> list[tuple[int, int]]:
    """(start, end) of each word of `text` for which `is_match(word as written)` is true."""
    scanned = text[:MAX_SCAN_CHARS]
    return [(start, end) for start, end in word_spans(scanned) if is_match(scanned[start:end])]


@lru_cache(maxsize=4096)
def words_pattern(surface_words: frozenset[str]) -> re.Pattern[str] | None:
    """A regex finding any of these (normalised) words as whole words; longest first."""
    ordered = sorted(surface_words, key=lambda w: (-len(w), w))
    if not ordered:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, ordered)) + r")(?![^\W_])")


def pattern_spans(folded: str, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Spans of `pattern` in `folded`, a normalised copy of the text with the same offsets."""
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(folded, 0, MAX_SCAN_CHARS)]


def make_snippet(text: str, *, hits: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """The window of `text` with the most of `hits` (word spans), those words in `<mark>`.
    Without a hit, the start of the text."""
    if not hits:
        return _clip(text, 0, width)
    best_start, best_count = hits[0][0], 0
    right = 0
    for left, (start, _) in enumerate(hits):
        while right < len(hits) and hits[right][1] - start <= width:
            right += 1
        if right - left > best_count:
            best_start, best_count = start, right - left
    window_start = max(0, best_start - width // 4)
    window_start = _word_boundary(text, window_start)
    window_end = min(len(text), window_start + width)
    out: list[str] = ["…" if window_start > 0 else ""]
    cursor = window_start
    for start, end in hits:
        if start < window_start or end > window_end:
            continue
        out.append(html.escape(text[cursor:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(text[cursor:window_end]))
    if window_end < len(text):
        out.append("…")
    return "".join(out).strip()


def highlight(text: str, *, is_match: Callable[[str], bool]) -> str:
    """All of a short text (a title) with its matched words marked."""
    out: list[str] = []
    cursor = 0
    for start, end in word_spans(text):
        if is_match(text[start:end]):
            out.append(html.escape(text[cursor:start]))
            out.append(f"<mark>{html.escape(text[start:end])}</mark>")
            cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def _word_boundary(text: str, index: int) -> int:
    if index <= 0:
        return 0
    space = text.rfind(" ", max(0, index - 20), index)
    return space + 1 if space >= 0 else index


def _clip(text: str, start: int, width: int) -> str:
    chunk = text[start : start + width]
    if start + width < len(text):
        cut = chunk.rfind(" ")
        chunk = (chunk[:cut] if cut > width // 2 else chunk) + "…"
    return html.escape(chunk)
