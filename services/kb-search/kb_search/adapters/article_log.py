"""The article stream as the store of record: read an article's last event, append the next one.

Optimistic concurrency uses JetStream itself: every article has its own subject, and an append
carries `Nats-Expected-Last-Subject-Sequence` = the sequence of the event the writer read (0 for a
new article). The server rejects it (error 10071) if anything was appended in between.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import APIError, NotFoundError

from kb_search.application.ports import Appended
from kb_search.domain.article import ArticleState, Change
from kb_search.domain.errors import VersionConflict
from shared.contracts.envelope import (
    Actor,
    EventEnvelope,
    envelope_headers,
)
from shared.contracts.kb import (
    ARTICLE_NAMESPACE,
    KB_ACCOUNT_ID,
    SCHEMA_VERSION,
    ArticleContent,
    KbEventData,
    article_subject,
    article_uuid,
    feedback_subject,
    parse_kb_event,
)
from shared.contracts.subjects import KB_STREAM, with_prefix

WRONG_LAST_SEQUENCE = 10071
PUBLISH_TIMEOUT = 5.0


def kb_stream_name(prefix: str) -> str:
    return KB_STREAM.stream_name(prefix)


class JetStreamArticleLog:
    def __init__(self, js: JetStreamContext, *, prefix: str) -> None:
        self._js = js
        self._prefix = prefix
        self._stream = kb_stream_name(prefix)

    async def state(self, article_id: str) -> ArticleState | None:
        try:
            msg = await self._js.get_last_msg(
                self._stream, with_prefix(self._prefix, article_subject(article_id))
            )
        except NotFoundError:
            return None
        assert msg.data is not None
        assert msg.seq is not None
        envelope = parse_kb_event(msg.data)
        data = envelope.data
        return ArticleState(
            version=envelope.aggregate_version,
            retired=envelope.type == Change.RETIRED.value,
            content_hash=data.content_hash if isinstance(data, ArticleContent) else "",
            sequence=msg.seq,
        )

    async def append(
        self,
        *,
        article_id: str,
        event_type: str,
        data: KbEventData,
        version: int,
        expected: ArticleState | None,
        msg_id: str,
        actor: Actor,
        correlation_id: str | None,
    ) -> Appended:
        envelope = _envelope(
            event_type=event_type,
            data=data,
            article_id=article_id,
            version=version,
            account_id=KB_ACCOUNT_ID,
            msg_id=msg_id,
            actor=actor,
            correlation_id=correlation_id,
        )
        headers = envelope_headers(envelope, msg_id=msg_id)
        headers[Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value] = str(expected.sequence if expected else 0)
        try:
            ack = await self._js.publish(
                with_prefix(self._prefix, article_subject(article_id)),
                envelope.model_dump_json(serialize_as_any=True).encode(),
                headers=headers,
                stream=self._stream,
                timeout=PUBLISH_TIMEOUT,
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise VersionConflict(
                    article_id, expected=expected.version if expected else None, actual=None
                ) from None
            raise
        return Appended(sequence=ack.seq, duplicate=bool(ack.duplicate))

    async def append_feedback(
        self,
        *,
        article_id: str,
        data: KbEventData,
        account_id: str,
        msg_id: str,
        actor: Actor,
        correlation_id: str | None,
    ) -> Appended:
        envelope = _envelope(
            event_type="article.feedback_given",
            data=data,
            article_id=article_id,
            version=1,
            account_id=account_id,
            msg_id=msg_id,
            actor=actor,
            correlation_id=correlation_id,
        )
        ack = await self._js.publish(
            with_prefix(self._prefix, feedback_subject(article_id)),
            envelope.model_dump_json(serialize_as_any=True).encode(),
            headers=envelope_headers(envelope, msg_id=msg_id),
            stream=self._stream,
            timeout=PUBLISH_TIMEOUT,
        )
        return Appended(sequence=ack.seq, duplicate=bool(ack.duplicate))


def _envelope(
    *,
    event_type: str,
    data: KbEventData,
    article_id: str,
    version: int,
    account_id: str,
    msg_id: str,
    actor: Actor,
    correlation_id: str | None,
) -> EventEnvelope[KbEventData]:
    return EventEnvelope[KbEventData](
        event_id=uuid.uuid5(ARTICLE_NAMESPACE, msg_id),
        type=event_type,
        schema_version=SCHEMA_VERSION,
        occurred_at=datetime.now(UTC),
        account_id=account_id,
        aggregate_id=article_uuid(article_id),
        aggregate_version=version,
        actor=actor,
        correlation_id=correlation_id,
        data=data,
    )
