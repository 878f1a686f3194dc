"""Everything one replica's requests need, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kb_search.application.commands import KbCommands
from kb_search.application.sections import SectionCommands
from kb_search.projections.search_index import SearchIndexProjection
from kb_search.search.index import SearchIndex


class IndexFeed(Protocol):
    @property
    def caught_up(self) -> bool: ...


@dataclass(frozen=True)
class KbRuntime:
    index: SearchIndex
    projection: SearchIndexProjection
    commands: KbCommands
    sections: SectionCommands
    feed: IndexFeed
    index_wait_seconds: float
