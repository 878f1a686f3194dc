"""Content-free statistics events (`helpdesk.chat.v1.*`) on a JetStream stream of their own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import StorageType

from chat.adapters.errors import NATS_AWAY
from shared.contracts.chat import DOMAIN, EVENT_TYPES, SCHEMA_VERSION, ChatEventData
from shared.contracts.envelope import Actor, EventEnvelope, envelope_headers
from shared.contracts.subjects import CHAT_STATS_STREAM, event_subject, with_prefix
from shared.logging import get_logger
from shared.nats import ensure_stream, stream_config

log = get_logger(__name__)
_TYPES = {model: name for name, model in EVENT_TYPES.items()}


async def ensure_stats_stream(js: JetStreamContext, *, prefix: str, replicas: int) -> None:
    # CHAT_STATS_STREAM captures only the versioned events, never the live relay's subjects.
    config = stream_config(CHAT_STATS_STREAM, prefix=prefix, replicas=replicas, storage=StorageType.FILE)
    await ensure_stream(js, config)


class StatsPublisher:
    """Publishes in the background: statistics never delay or fail a chat."""

    def __init__(self, js: JetStreamContext | None, *, prefix: str) -> None:
        self._js = js
        self._prefix = prefix
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, data: ChatEventData, *, sid: str, version: int, account_id: str, actor: Actor) -> None:
        if self._js is None:
            return
        event_type = _TYPES[type(data)]
        envelope = EventEnvelope[ChatEventData](
            event_id=uuid.uuid4(),
            type=event_type,
            schema_version=SCHEMA_VERSION,
            occurred_at=datetime.now(UTC),
            account_id=account_id,
            aggregate_id=uuid.UUID(sid),
            aggregate_version=version,
            actor=actor,
            correlation_id=sid,
            data=data,
        )
        task = asyncio.create_task(self._publish(envelope))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, envelope: EventEnvelope[ChatEventData]) -> None:
        assert self._js is not None
        subject = with_prefix(self._prefix, event_subject(DOMAIN, envelope.type, SCHEMA_VERSION))
        headers = envelope_headers(envelope)
        try:
            await self._js.publish(subject, envelope.model_dump_json().encode(), headers=headers, timeout=5)
        except NATS_AWAY:  # statistics are best effort by design: a chat never waits on them
            log.warning("chat_stats_not_published", event_type=envelope.type, exc_info=True)

    async def drain(self, *, within: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)
