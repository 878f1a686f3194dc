"""Plain text from Markdown, and snippets with the matched words wrapped in `<mark>`.

Article text is HTML-escaped before `<mark>` is added, so a snippet is safe to insert as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from kb_search.search.normalise import word_spans

_CODE_FENCE = re.compile(r"```.*?```", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]{1,200}>")
_BLOCK_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s*|>\s*|[-*+]\s+|\d+[.)]\s+)", re.M)
_INLINE_MARKUP = re.compile(r"[*_`~]+")
SNIPPET_CHARS = 200
MAX_SCAN_CHARS = 2_000  # snippets come from the start of long articles
_OPEN, _CLOSE = "\ue000", "\ue001"  # where `<mark>` and `</mark>` go, before escaping


def markdown_to_text(markdown: str) -> str:
    # Each pattern is skipped when the text lacks what it starts with: most bodies have no code,
    # image, link or tag, and a scan for two characters costs far less than a regex pass.
    text = _CODE_FENCE.sub(" ", markdown) if "```" in markdown else markdown
    if "](" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub(r"\1", text))
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    text = _BLOCK_MARKUP.sub(" ", text).replace("|", " ")
    if "*" in text or "_" in text or "`" in text or "~" in text:
        text = _INLINE_MARKUP.sub("", text)
    text = text.replace(_OPEN, "").replace(_CLOSE, "")
    # Whitespace runs as one space, none at the ends: `str.split` and `re`'s `\s` agree on what
    # whitespace is (every code point checked), and splitting costs a third of a regex pass.
    return " ".join(text.split())


def match_spans(text: str, *, is_match: Callable[[str], bool]) -> list[tuple[int, int]]:
    """(start, end) of each word of `text` for which `is_match(word as written)` is true."""
    scanned = text[:MAX_SCAN_CHARS]
    return [(start, end) for start, end in word_spans(scanned) if is_match(scanned[start:end])]


def word_hits(folded: str, surface_words: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of the whole-word occurrences of `surface_words` (normalised words) in `folded`, a
    normalised copy of a text with the same offsets; where two overlap, the earlier and longer.

    `str.find` per word rather than one regex of all the words: compiling that regex costs more
    than the few finds of the words a document actually contains."""
    head = folded[:MAX_SCAN_CHARS]
    limit = len(head)
    find = head.find
    found: list[tuple[int, int]] = []  # (start, -end): sorted, the longer first at one start
    for word in surface_words:
        size = len(word)
        start = find(word) if size else -1
        while start >= 0:
            end = start + size
            if (not start or not head[start - 1].isalnum()) and (end == limit or not head[end].isalnum()):
                found.append((start, -end))
            start = find(word, start + 1)
    found.sort()
    spans: list[tuple[int, int]] = []
    last_end = 0
    for start, negated_end in found:
        if start >= last_end:
            last_end = -negated_end
            spans.append((start, last_end))
    return spans


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
    # Marked up with two private-use characters (never in `text`, see `markdown_to_text`), then
    # escaped in one call: far fewer calls than escaping each piece.
    out: list[str] = []
    cursor = window_start
    for start, end in hits:
        if start < window_start or end > window_end:
            continue
        out += (text[cursor:start], _OPEN, text[start:end], _CLOSE)
        cursor = end
    out.append(text[cursor:window_end])
    marked = html.escape("".join(out)).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
    before = "…" if window_start > 0 else ""
    after = "…" if window_end < len(text) else ""
    return f"{before}{marked}{after}".strip()


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
