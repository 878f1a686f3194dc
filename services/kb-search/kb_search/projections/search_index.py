"""Feeds this replica's `SearchIndex` from the article stream, in stream order.

Every replica replays the stream from its first message, so every replica ends with the same index.
The projection remembers the last stream sequence it applied, which lets a writer wait until its own
write is searchable here (read-your-writes on the replica that took the request).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from prometheus_client import Gauge

from kb_search.domain.article import Article
from kb_search.search.index import SearchIndex
from shared.contracts.envelope import EventEnvelope
from shared.contracts.kb import ArticleContent, ArticleFeedbackGiven, ArticleRetired, KbEventData

INDEX_POSITION = Gauge(
    "helpdesk_kb_index_position", "Last article-stream sequence applied to this replica's search index"
)
INDEX_ARTICLES = Gauge("helpdesk_kb_index_articles", "Live articles in this replica's search index")


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    helpful: int = 0
    not_helpful: int = 0


class SearchIndexProjection:
    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.position = 0
        self._helpful: Counter[str] = Counter()
        self._not_helpful: Counter[str] = Counter()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def apply(self, envelope: EventEnvelope[KbEventData], *, sequence: int) -> None:
        """Apply one event; events at or below the current position are ignored (redelivery)."""
        if sequence <= self.position:
            return
        data = envelope.data
        if isinstance(data, ArticleContent):
            # The domain's own checks again: the stream is open to other producers.
            article = Article.from_mapping({**data.model_dump(mode="json"), "id": data.article_id})
            self.index.upsert(article, version=envelope.aggregate_version)
        elif isinstance(data, ArticleRetired):
            self.index.remove(data.article_id)
        elif isinstance(data, ArticleFeedbackGiven):
            (self._helpful if data.helpful else self._not_helpful)[data.article_id] += 1
        self.skip(sequence)

    def skip(self, sequence: int) -> None:
        """Move past a message that carries nothing for the index (or was dead-lettered)."""
        self.position = max(self.position, sequence)
        INDEX_POSITION.set(self.position)
        INDEX_ARTICLES.set(len(self.index))
        if self._waiters:
            ready = [(s, f) for s, f in self._waiters if s <= self.position]
            self._waiters = [(s, f) for s, f in self._waiters if s > self.position]
            for _, future in ready:
                if not future.done():
                    future.set_result(None)

    def feedback(self, article_id: str) -> FeedbackCounts:
        return FeedbackCounts(self._helpful[article_id], self._not_helpful[article_id])

    async def wait_for(self, sequence: int, *, within: float) -> bool:
        """True once the event at `sequence` is applied here; False after `within` seconds."""
        if sequence <= self.position:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((sequence, future))
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            return False
        return True
