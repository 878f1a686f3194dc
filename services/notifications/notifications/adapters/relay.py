"""The notifications service's outbox relay: its store → the POPUPS stream, through `shared.outbox`.

What is particular to this service is only the message: the public form of a stored popup event (or
none, e.g. for a requester record) with its store position in `Helpdesk-Store-Position`, the header
the POPUPS stream has always carried (the relay reads its position back from it; the SSE fan-out
resumes browsers with it).
"""

from __future__ import annotations

from eventsourcing.persistence import Notification
from nats.js import JetStreamContext

from notifications.application.public import public_event
from notifications.application.store import PopupStore
from notifications.metrics import RELAY_POSITION
from shared.contracts.envelope import envelope_headers
from shared.contracts.subjects import with_prefix
from shared.outbox import OutboxRelay, OutgoingMessage, RelayMetrics
from shared.storenumbering import NumberedSource

HEADER_STORE_POSITION = "Helpdesk-Store-Position"

Relay = OutboxRelay[Notification]


def popup_relay(
    store: PopupStore,
    *,
    js: JetStreamContext,
    stream: str,
    prefix: str,
    path_template: str,
    poll_seconds: float,
    batch: int = 100,
) -> Relay:
    """The relay of `store` to `stream`, looking at the store every `poll_seconds` when not woken."""

    def message_of(notification: Notification) -> OutgoingMessage | None:
        event = public_event(store, notification, path_template=path_template)
        if event is None:
            return None
        return OutgoingMessage(
            subject=with_prefix(prefix, event.subject),
            payload=event.body(),
            headers=envelope_headers(event.envelope),
        )

    return OutboxRelay(
        js=js,
        stream=stream,
        # Numbered after the stream's position before it is read from (a restored store).
        source=NumberedSource(store, recorder=store.recorder, stream=stream),
        to_message=message_of,
        position_header=HEADER_STORE_POSITION,
        batch_size=batch,
        idle_wait=poll_seconds,
        metrics=RelayMetrics(position=RELAY_POSITION),
    )
