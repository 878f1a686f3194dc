"""The editors' commands and readers' feedback. Each reads the article's last event from the stream
and appends one event guarded by the sequence it read, so two editors never overwrite each other
silently; writing unchanged content is a no-op. Publishing and updating need the article's section
to be live (an import makes sure of that itself, see `importer`)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from kb_search.application.ports import ArticleEvent, ArticleLog, FeedbackEvent, Origin
from kb_search.application.sections import SectionCommands
from kb_search.domain.article import (
    Article,
    ArticleState,
    Change,
    decide_publish,
    decide_retire,
    decide_update,
    decide_upsert,
)
from kb_search.domain.errors import ArticleNotFound, VersionConflict
from shared.contracts.envelope import Actor
from shared.contracts.kb import ArticleFeedbackGiven, KbEventData, article_key
from shared.contracts.kb_v2 import ArticlePublishedV2, ArticleRetiredV2, ArticleUpdatedV2

UPSERT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class WriteResult:
    article_id: str
    version: int
    sequence: int
    changed: bool
    change: Change | None = None


class KbCommands:
    def __init__(self, log: ArticleLog, sections: SectionCommands | None = None) -> None:
        """Without `sections`, any well-formed section id is accepted (tests, benchmarks)."""
        self._log = log
        self.sections = sections

    async def publish(
        self, article: Article, *, actor: Actor, correlation_id: str | None = None
    ) -> WriteResult:
        await self._check_section(article)
        state = await self._log.state(article.id)
        return await self._write(article, decide_publish(article, state), state, actor, correlation_id)

    async def update(
        self,
        article: Article,
        *,
        actor: Actor,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> WriteResult:
        state = await self._log.state(article.id)
        change = decide_update(article, state, expected_version=expected_version)
        if change is not None:
            await self._check_section(article)
        return await self._write(article, change, state, actor, correlation_id)

    async def upsert(
        self, article: Article, *, actor: Actor, correlation_id: str | None = None
    ) -> WriteResult:
        """Publish, update or leave alone: what an import does with each article."""
        for attempt in range(UPSERT_ATTEMPTS):
            state = await self._log.state(article.id)
            try:
                return await self._write(article, decide_upsert(article, state), state, actor, correlation_id)
            except VersionConflict:
                if attempt == UPSERT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def retire(
        self,
        article_id: str,
        *,
        actor: Actor,
        reason: str = "",
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> WriteResult:
        state = await self._log.state(article_id)
        decide_retire(article_id, state, expected_version=expected_version)
        assert state is not None
        version = state.version + 1
        retired = ArticleEvent(
            article_id=article_id,
            event_type=Change.RETIRED.value,
            data=ArticleRetiredV2(article_id=article_id, reason=reason),
            version=version,
            expected=state,
            event_key=f"kb.{article_key(article_id)}.{version}.retired",
            origin=Origin(actor, correlation_id),
        )
        appended = await self._log.append(retired)
        return WriteResult(article_id, version, appended.sequence, True, Change.RETIRED)

    async def feedback(
        self,
        article_id: str,
        *,
        helpful: bool,
        comment: str,
        actor: Actor,
        account_id: str,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> int:
        """Record a "was this helpful?" answer; the article must be live."""
        state = await self._log.state(article_id)
        if state is None or state.retired:
            raise ArticleNotFound(article_id)
        key = idempotency_key or uuid.uuid4().hex
        given = FeedbackEvent(
            article_id=article_id,
            data=ArticleFeedbackGiven(article_id=article_id, helpful=helpful, comment=comment),
            account_id=account_id,
            event_key=f"kb.{article_key(article_id)}.feedback.{actor.id}.{key}"[:250],
            origin=Origin(actor, correlation_id),
        )
        appended = await self._log.append_feedback(given)
        return appended.sequence

    async def _check_section(self, article: Article) -> None:
        if self.sections is not None:
            await self.sections.check_live(article.section)

    async def _write(
        self,
        article: Article,
        change: Change | None,
        state: ArticleState | None,
        actor: Actor,
        correlation_id: str | None,
    ) -> WriteResult:
        if change is None:
            assert state is not None
            return WriteResult(article.id, state.version, state.sequence, False)
        version = (state.version if state else 0) + 1
        content_hash = article.content_hash
        model: type[ArticlePublishedV2 | ArticleUpdatedV2] = (
            ArticlePublishedV2 if change is Change.PUBLISHED else ArticleUpdatedV2
        )
        fields = asdict(article)
        fields["article_id"] = fields.pop("id")
        data: KbEventData = model.model_validate({**fields, "content_hash": content_hash})
        event = ArticleEvent(
            article_id=article.id,
            event_type=change.value,
            data=data,
            version=version,
            expected=state,
            # Same article, same content, same place in its history → same id: JetStream drops the
            # second copy of a concurrent duplicate write.
            event_key=f"kb.{article_key(article.id)}.{version}.{content_hash[:32]}",
            origin=Origin(actor, correlation_id),
        )
        appended = await self._log.append(event)
        return WriteResult(article.id, version, appended.sequence, not appended.duplicate, change)
