"""The tickets service's outbox relays: its event store → the TICKETS stream, and the support
directory's store → its own stream, both through the one relay of `shared.outbox`.

What is particular to this service is only the message: the public envelope of a stored event (or
none, e.g. for an index aggregate), on its domain's subject, with the notification id it was made
from in `Helpdesk-Notification-Id` (the header these streams have always carried: the relay reads its
position back from it) and the `traceparent` stored with the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge

from shared.contracts.envelope import EventEnvelope, envelope_headers
from shared.contracts.subjects import TICKETS_STREAM, StreamSpec, event_subject, with_prefix
from shared.contracts.tickets import DOMAIN, EVENT_TYPES
from shared.outbox import (
    OutboxRelay,
    OutgoingMessage,
    RecorderSource,
    RelayMetrics,
    StreamPosition,
    read_stream_position,
)
from shared.storenumbering import NumberedSource, advance_before_writes
from shared.tracing import enabled

# The notification id of the stored event a message was made from: the relay's position.
HEADER_NOTIFICATION_ID = "Helpdesk-Notification-Id"

PUBLISHED = Counter("helpdesk_tickets_relay_published_total", "Events the relay published to JetStream")
RELAY_POSITION = Gauge(
    "helpdesk_tickets_relay_notification_id", "Last notification id published to JetStream"
)
RELAY_RESYNCS = Counter(
    "helpdesk_tickets_relay_resyncs_total", "Times the relay re-read its position from the stream", ["reason"]
)

# pydantic keeps a parametrised generic model (`EventEnvelope[TicketCreated]`) in a weak cache: once
# the last envelope of that class is collected, the next event builds the class again, its schema
# included (~0.6 ms, 2-3% of the API's, the relay's and the projector's samples under load). Held
# here, imported by every process that publishes or reads ticket events, the classes stay built.
PARAMETRISED_ENVELOPES = (EventEnvelope[Any], *(EventEnvelope[model] for model in EVENT_TYPES.values()))  # type: ignore[valid-type]

ToEnvelope = Callable[[Notification], "EventEnvelope[Any] | None"]
TraceParentOf = Callable[[Notification], "str | None"]

__all__ = [
    "HEADER_NOTIFICATION_ID",
    "StreamPosition",
    "envelope_relay",
    "number_after_stream",
    "read_position",
    "tickets_stream_name",
    "to_message",
]


def tickets_stream_name(prefix: str) -> str:
    return TICKETS_STREAM.stream_name(prefix)


def to_message(
    envelope: EventEnvelope[Any],
    *,
    notification_id: int,
    prefix: str,
    domain: str = DOMAIN,
    trace_parent: str | None = None,
) -> OutgoingMessage:
    """The NATS message of one public event (without its precondition header)."""
    headers = envelope_headers(envelope)
    headers[HEADER_NOTIFICATION_ID] = str(notification_id)
    subject = with_prefix(prefix, event_subject(domain, envelope.type, envelope.schema_version))
    payload = envelope.model_dump_json().encode()
    return OutgoingMessage(subject=subject, payload=payload, headers=headers, trace_parent=trace_parent)


async def read_position(js: JetStreamContext, stream: str) -> StreamPosition:
    """How far the store has been published to `stream`, as its last message says."""
    return await read_stream_position(js, stream, position_header=HEADER_NOTIFICATION_ID)


async def number_after_stream(
    js: JetStreamContext, source: ApplicationRecorder, *, prefix: str, stream: StreamSpec = TICKETS_STREAM
) -> None:
    """At start-up, before any write: `source`'s store numbers its next event after the position of
    `stream` (TICKETS unless told), as after a restore it may not (`shared.storenumbering`)."""
    name = stream.stream_name(prefix)
    await advance_before_writes(js, source, stream=name, position_header=HEADER_NOTIFICATION_ID)


def envelope_relay(
    *,
    js: JetStreamContext,
    source: ApplicationRecorder,
    to_envelope: ToEnvelope,
    prefix: str = "",
    stream: StreamSpec = TICKETS_STREAM,
    domain: str = DOMAIN,
    position_gauge: Gauge = RELAY_POSITION,
    trace_parent_of: TraceParentOf | None = None,
    **options: Any,
) -> OutboxRelay[Notification]:
    """The relay of an eventsourcing recorder (`source`) whose events have a public envelope of
    `domain`, to `stream` (TICKETS unless told); `options` as `shared.outbox.OutboxRelay` takes them."""

    def message_of(notification: Notification) -> OutgoingMessage | None:
        envelope = to_envelope(notification)
        if envelope is None:
            return None
        traced = trace_parent_of is not None and enabled()
        return to_message(
            envelope,
            notification_id=notification.id,
            prefix=prefix,
            domain=domain,
            trace_parent=trace_parent_of(notification) if traced and trace_parent_of else None,
        )

    name = stream.stream_name(prefix)
    return OutboxRelay(
        js=js,
        stream=name,
        # Numbered after the stream's position before it is read from (a restored store).
        source=NumberedSource(RecorderSource(source), recorder=source, stream=name),
        to_message=message_of,
        position_header=HEADER_NOTIFICATION_ID,
        metrics=RelayMetrics(position=position_gauge, published=PUBLISHED, resyncs=RELAY_RESYNCS),
        **options,
    )
