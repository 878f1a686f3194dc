"""Consumer lag (`shared/consumerlag.py`) on a real nats-server: a durable consumer's undelivered and
unacknowledged messages, as the server counts them, in gauges labelled by service, stream and consumer."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from prometheus_client import REGISTRY

from shared.consumerlag import ConsumerLagSampler, DurableConsumer

pytestmark = pytest.mark.integration


def gauge(name: str, stream: str, consumer: str) -> float | None:
    labels = {"service": "test", "stream": stream, "consumer": consumer}
    return REGISTRY.get_sample_value(name, labels)


async def test_a_durable_consumers_pending_and_unacknowledged_messages_are_sampled(
    nc: NATS, nats_prefix: str
) -> None:
    js = nc.jetstream()
    stream, subject, durable = f"{nats_prefix}_LAG", f"{nats_prefix}.lag.events", f"{nats_prefix}-lag"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
    try:
        await js.add_consumer(stream, ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT))
        for i in range(5):
            await js.publish(subject, str(i).encode())
        sampler = ConsumerLagSampler(
            js,
            service="test",
            consumers=[DurableConsumer(stream, durable), DurableConsumer(stream, "never-created")],
        )

        await sampler.sample()
        assert gauge("helpdesk_nats_consumer_pending_messages", stream, durable) == 5
        assert gauge("helpdesk_nats_consumer_ack_pending_messages", stream, durable) == 0
        # A consumer that does not exist (yet) is reported as unknown, not as zero lag.
        assert gauge("helpdesk_nats_consumer_pending_messages", stream, "never-created") is None

        sub = await js.pull_subscribe_bind(durable, stream=stream)
        (first, second) = await sub.fetch(2, timeout=5)
        await first.ack_sync()
        await sampler.sample()
        assert gauge("helpdesk_nats_consumer_pending_messages", stream, durable) == 3
        assert gauge("helpdesk_nats_consumer_ack_pending_messages", stream, durable) == 1
        await second.ack_sync()
    finally:
        await js.delete_stream(stream)
