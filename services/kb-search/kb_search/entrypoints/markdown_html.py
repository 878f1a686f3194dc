"""Article bodies (Markdown) as HTML the widget may insert: sanitised by construction.

markdown-it-py with raw HTML off escapes every tag typed in the body (`<script>`, `<img onerror>`
come out as text), so the only elements are the ones Markdown itself makes. Links and images keep a
URL only when it is http, https (or, for links, mailto); any other (`javascript:`, `data:`, `file:`,
relative) leaves the Markdown source as text. Links open in a new tab with `rel="noopener
noreferrer"`. See https://markdown-it-py.readthedocs.io/en/latest/security.html.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
CACHE_SIZE = 512


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.validateLink = _valid_link  # type: ignore[method-assign]

    def link_open(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        token.attrSet("rel", "noopener noreferrer")
        token.attrSet("target", "_blank")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def _valid_link(url: str) -> bool:
    return bool(_SAFE_URL.match(url.strip()))


@lru_cache(maxsize=CACHE_SIZE)
def render_markdown(body: str) -> str:
    """The body as sanitised HTML (cached: an article is read far more often than it changes)."""
    return str(_markdown().render(body))
