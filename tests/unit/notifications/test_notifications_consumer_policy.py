"""What the tickets-stream consumer decides for one message: apply, retry with back-off, dead-letter.

No broker here: messages are nats-py `Msg` objects with JetStream metadata in their reply subject,
and the JetStream context only records what is published to the dead-letter subject. The real
broker, server and redeliveries are proven in tests/integration/notifications.
"""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from structlog.contextvars import get_contextvars

from notifications.adapters.consumer import Retry, TicketEventsConsumer
from shared.contracts.envelope import HEADER_DLQ_REASON, EventEnvelope
from shared.contracts.tickets import TicketEventData
from tests.support.notifications import replied

pytestmark = pytest.mark.unit

SUBJECT = "t1.helpdesk.tickets.v1.ticket.replied"


class RecordingJetStream:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, subject: str, payload: bytes, *, headers: dict[str, str]) -> None:
        self.published.append((subject, payload, headers))


def message(body: bytes, *, delivered: int = 1, stream_seq: int = 7) -> Msg:
    reply = f"$JS.ACK.T1_TICKETS.t1-notifications.{delivered}.{stream_seq}.{stream_seq}.1700000000000000000.0"
    return Msg(cast(Any, None), subject=SUBJECT, reply=reply, data=body, headers={"Nats-Msg-Id": "e-1"})


def consumer(handle: Any, **kw: Any) -> TicketEventsConsumer:
    return TicketEventsConsumer(prefix="t1", handle=handle, max_deliver=3, backoff_seconds=[0.1, 0.2], **kw)


async def test_a_malformed_body_is_dead_lettered_at_once_and_acked_without_reaching_the_handler() -> None:
    js, calls = RecordingJetStream(), list[object]()
    outcome = await consumer(calls.append).process(message(b"{not json"), js=cast(JetStreamContext, js))
    assert outcome is None  # done: the subscriber acks it
    assert calls == []
    [(subject, payload, headers)] = js.published
    assert subject == "t1.helpdesk.dlq.notifications"
    assert payload == b"{not json"
    assert headers[HEADER_DLQ_REASON].startswith("malformed: ValidationError")
    assert headers["Nats-Msg-Id"] == "notifications:T1_TICKETS:7"  # parked once, even if redelivered
    assert headers["Helpdesk-Dead-Letter-Subject"] == SUBJECT


async def test_a_failing_event_is_retried_with_growing_back_off_then_dead_lettered_on_the_last_delivery() -> (
    None
):
    js = RecordingJetStream()

    def failing(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        raise OSError("the store is away")

    body = json.dumps(replied(uuid4())).encode()
    policy = consumer(failing)
    outcomes = [
        await policy.process(message(body, delivered=n), js=cast(JetStreamContext, js)) for n in (1, 2, 3)
    ]
    assert outcomes == [Retry(0.1), Retry(0.2), None]
    [(_, payload, headers)] = js.published
    assert payload == body
    assert headers[HEADER_DLQ_REASON] == "failed 3 times: OSError: the store is away"


async def test_an_applied_event_is_acked_after_its_effect_with_its_ids_bound_to_the_log_context() -> None:
    js, seen, effects = RecordingJetStream(), [], []
    event = replied(uuid4())
    event["causation_id"] = "cause-9"
    popup = uuid4()

    def handle(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        seen.append(get_contextvars())
        return popup

    policy = consumer(handle, on_effect=lambda: effects.append("woken"))
    outcome = await policy.process(message(json.dumps(event).encode()), js=cast(JetStreamContext, js))
    assert outcome is None and js.published == []
    assert effects == ["woken"]  # the relay publishes the popup at once
    [bound] = seen
    assert bound["correlation_id"] == "corr-1"
    assert bound["causation_id"] == "cause-9"
    assert bound["event_id"] == event["event_id"]
    assert bound["account_id"] == "hotel-a"
    assert "event_id" not in get_contextvars()  # unbound once the message is done


async def test_a_reply_whose_requester_is_not_recorded_yet_waits_then_falls_back_to_the_account() -> None:
    from notifications.domain.errors import RequesterNotSeenYet

    js, lenient_calls = RecordingJetStream(), []
    popup = uuid4()

    def strict(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        raise RequesterNotSeenYet(envelope.aggregate_id)

    def lenient(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        lenient_calls.append(envelope.event_id)
        return popup

    body = json.dumps(replied(uuid4())).encode()
    policy = TicketEventsConsumer(
        prefix="t1",
        handle=lenient,
        handle_strict=strict,
        max_deliver=5,
        backoff_seconds=[1.0],
        requester_wait_seconds=0.25,
    )
    outcomes = [
        await policy.process(message(body, delivered=n), js=cast(JetStreamContext, js)) for n in (1, 2, 3)
    ]
    # Two short waits (another replica may be recording the ticket's creation), then the account.
    assert outcomes == [Retry(0.25), Retry(0.25), None]
    assert len(lenient_calls) == 1
    assert js.published == []  # waiting is not a failure: nothing is dead-lettered
