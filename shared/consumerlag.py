"""Consumer lag: how many messages each durable JetStream consumer has not been given yet (the
server's `num_pending`) and how many it was given and has not acknowledged (`num_ack_pending`),
sampled from the consumer's info every few seconds, as gauges labelled by service, stream and consumer.

Every replica of a service samples the same consumer (they share it) and reports the same numbers:
alerts and dashboards take the `max` per consumer. A sample that fails (NATS away, the consumer not
created yet) leaves the last values and is logged once per failure streak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError
from prometheus_client import Gauge

from shared.logging import get_logger
from shared.stopping import every

log = get_logger(__name__)

CONSUMER_PENDING = Gauge(
    "helpdesk_nats_consumer_pending_messages",
    "Messages in the stream a durable consumer has not been given yet (JetStream num_pending)",
    ["service", "stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "helpdesk_nats_consumer_ack_pending_messages",
    "Messages a durable consumer was given and has not acknowledged yet (JetStream num_ack_pending)",
    ["service", "stream", "consumer"],
)
DEFAULT_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class DurableConsumer:
    """A durable consumer to watch: the stream's and the consumer's names as the server knows them."""

    stream: str
    consumer: str


class ConsumerLagSampler:
    """Samples each of `consumers` every `interval` seconds into the lag gauges."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        service: str,
        consumers: Sequence[DurableConsumer],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        timeout: float = 2.0,
    ) -> None:
        self._js = js
        self._service = service
        self._consumers = tuple(consumers)
        self._interval = interval
        self._timeout = timeout
        self._failing: set[DurableConsumer] = set()

    async def sample(self) -> None:
        """One look at every consumer."""
        for watched in self._consumers:
            try:
                info = await self._js.consumer_info(watched.stream, watched.consumer, timeout=self._timeout)
            except (NatsError, APIError, TimeoutError) as exc:
                if watched not in self._failing:
                    log.warning(
                        "consumer_lag_unknown",
                        stream=watched.stream,
                        consumer=watched.consumer,
                        error=repr(exc),
                    )
                    self._failing.add(watched)
                continue
            self._failing.discard(watched)
            labels = (self._service, watched.stream, watched.consumer)
            CONSUMER_PENDING.labels(*labels).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(*labels).set(info.num_ack_pending or 0)

    async def run(self) -> None:
        """Sample until cancelled."""
        await every(self._interval, self.sample)
