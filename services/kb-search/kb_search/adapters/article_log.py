"""The article stream as the store of record: read an article's (or a section's) last event, append
the next one.

Optimistic concurrency uses JetStream itself: every article and every section has its own subject,
and an append carries `Nats-Expected-Last-Subject-Sequence` = the sequence of the event the writer
read on that subject (0 for a new one). The server rejects it (error 10071) if anything was appended
in between. Articles are written as version 2 (`helpdesk.kb.v2.article.<key>`); an article whose
history is all version 1 is read from its version 1 subject and continues on the version 2 one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import Header, RawStreamMsg
from nats.js.errors import APIError, NotFoundError

from kb_search.application.ports import Appended, ArticleEvent, FeedbackEvent, Origin, SectionEvent
from kb_search.domain.article import ArticleState, Change
from kb_search.domain.errors import SectionVersionConflict, VersionConflict
from kb_search.domain.section import Section, SectionChange, SectionState
from shared.contracts import kb_v2
from shared.contracts.envelope import EventEnvelope, envelope_headers
from shared.contracts.kb import (
    ARTICLE_NAMESPACE,
    KB_ACCOUNT_ID,
    ArticleContent,
    KbEventData,
    article_uuid,
    feedback_subject,
)
from shared.contracts.kb import SCHEMA_VERSION as FEEDBACK_SCHEMA_VERSION
from shared.contracts.kb import article_subject as article_subject_v1
from shared.contracts.subjects import KB_STREAM, with_prefix
from shared.tracing import inject

WRONG_LAST_SEQUENCE = 10071
PUBLISH_TIMEOUT = 5.0


def kb_stream_name(prefix: str) -> str:
    return KB_STREAM.stream_name(prefix)


class _KbStream:
    """The article stream under this deployment's prefix."""

    def __init__(self, js: JetStreamContext, *, prefix: str) -> None:
        self._js = js
        self._prefix = prefix
        self._stream = kb_stream_name(prefix)

    async def _last(self, subject: str) -> RawStreamMsg | None:
        try:
            return await self._js.get_last_msg(self._stream, with_prefix(self._prefix, subject))
        except NotFoundError:
            return None

    async def _publish(
        self,
        subject: str,
        envelope: EventEnvelope[KbEventData],
        *,
        after: int | None = None,
        conflict: Callable[[], Exception] | None = None,
    ) -> Appended:
        """Publish `envelope` on `subject`; with `after`, only if the subject's last message is still
        that one (0: none), else `conflict()` is raised: the optimistic concurrency of articles and
        sections alike."""
        headers = envelope_headers(envelope)
        if after is not None:
            headers[Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value] = str(after)
        inject(headers)  # the request's trace goes on in the index of every replica
        try:
            ack = await self._js.publish(
                with_prefix(self._prefix, subject),
                envelope.model_dump_json().encode(),
                headers=headers,
                stream=self._stream,
                timeout=PUBLISH_TIMEOUT,
            )
        except APIError as exc:
            if conflict is not None and exc.err_code == WRONG_LAST_SEQUENCE:
                raise conflict() from None
            raise
        return Appended(sequence=ack.seq, duplicate=bool(ack.duplicate))


class JetStreamArticleLog(_KbStream):
    async def state(self, article_id: str) -> ArticleState | None:
        msg = await self._last(kb_v2.article_subject(article_id))
        write_sequence = msg.seq if msg is not None else 0
        if msg is None:
            msg = await self._last(article_subject_v1(article_id))
        if msg is None:
            return None
        assert msg.data is not None
        assert msg.seq is not None
        envelope = kb_v2.parse_kb_event(msg.data)
        data = envelope.data
        return ArticleState(
            version=envelope.aggregate_version,
            retired=envelope.type == Change.RETIRED.value,
            content_hash=data.content_hash if isinstance(data, ArticleContent) else "",
            sequence=msg.seq,
            write_sequence=write_sequence or 0,
        )

    async def append(self, event: ArticleEvent) -> Appended:
        envelope = _envelope(
            event.event_type,
            event.data,
            aggregate_id=article_uuid(event.article_id),
            version=event.version,
            event_key=event.event_key,
            origin=event.origin,
        )
        expected = event.expected
        seen = expected.version if expected else None
        return await self._publish(
            kb_v2.article_subject(event.article_id),
            envelope,
            after=expected.write_sequence if expected else 0,
            conflict=lambda: VersionConflict(event.article_id, expected=seen, actual=None),
        )

    async def append_feedback(self, feedback: FeedbackEvent) -> Appended:
        envelope = _envelope(
            "article.feedback_given",
            feedback.data,
            aggregate_id=article_uuid(feedback.article_id),
            version=1,
            event_key=feedback.event_key,
            origin=feedback.origin,
            schema_version=FEEDBACK_SCHEMA_VERSION,
            account_id=feedback.account_id,
        )
        return await self._publish(feedback_subject(feedback.article_id), envelope)


def _envelope(
    event_type: str,
    data: KbEventData,
    *,
    aggregate_id: uuid.UUID,
    version: int,
    event_key: str,
    origin: Origin,
    schema_version: int = kb_v2.SCHEMA_VERSION,
    account_id: str = KB_ACCOUNT_ID,
) -> EventEnvelope[KbEventData]:
    """`event_key` names the event deterministically (the same write retried gives the same key), so
    its `event_id`, which is also its `Nats-Msg-Id`, lets JetStream drop a duplicate."""
    return EventEnvelope[KbEventData](
        event_id=uuid.uuid5(ARTICLE_NAMESPACE, event_key),
        type=event_type,
        schema_version=schema_version,
        occurred_at=datetime.now(UTC),
        account_id=account_id,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        actor=origin.actor,
        correlation_id=origin.correlation_id,
        data=data,
    )


class JetStreamSectionLog(_KbStream):
    """Sections' events, each section on its own subject of the article stream."""

    async def state(self, section_id: str) -> SectionState | None:
        msg = await self._last(kb_v2.section_subject(section_id))
        return _section_state(msg) if msg is not None else None

    async def all(self) -> list[SectionState]:
        info = await self._js.stream_info(
            self._stream, subjects_filter=with_prefix(self._prefix, kb_v2.sections_filter())
        )
        subjects = sorted((info.state.subjects or {}).keys())
        messages = await asyncio.gather(*(self._js.get_last_msg(self._stream, s) for s in subjects))
        return [_section_state(msg) for msg in messages]

    async def append(self, event: SectionEvent) -> Appended:
        section, version, expected = event.section, event.version, event.expected
        model = {
            SectionChange.CREATED.value: kb_v2.SectionCreated,
            SectionChange.UPDATED.value: kb_v2.SectionUpdated,
            SectionChange.RETIRED.value: kb_v2.SectionRetired,
        }[event.event_type]
        data: KbEventData = model(
            section_id=section.id, names=kb_v2.SectionNames(**section.names), order=section.order
        )
        envelope = _envelope(
            event.event_type,
            data,
            aggregate_id=kb_v2.section_uuid(section.id),
            version=version,
            event_key=f"kb.section.{section.id}.{version}.{event.event_type}",
            origin=event.origin,
        )
        seen = expected.version if expected else None
        return await self._publish(
            kb_v2.section_subject(section.id),
            envelope,
            after=expected.sequence if expected else 0,
            conflict=lambda: SectionVersionConflict(section.id, expected=seen, actual=None),
        )


def _section_state(msg: RawStreamMsg) -> SectionState:
    assert msg.data is not None
    assert msg.seq is not None
    envelope = kb_v2.parse_kb_event(msg.data)
    data = envelope.data
    if isinstance(data, kb_v2.SectionCreated | kb_v2.SectionUpdated | kb_v2.SectionRetired):
        section = Section(id=data.section_id, names=data.names.model_dump(), order=data.order)
        retired = isinstance(data, kb_v2.SectionRetired)
        return SectionState(
            section=section, version=envelope.aggregate_version, retired=retired, sequence=msg.seq
        )
    raise ValueError(f"not a section event: {envelope.type}")
