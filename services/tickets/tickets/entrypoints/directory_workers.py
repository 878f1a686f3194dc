"""The support directory's publication: its stream (created by the migration step) and its relay,
the same outbox relay as the tickets' over the directory's own store."""

from __future__ import annotations

import asyncio
from typing import Any

from eventsourcing.persistence import Notification
from nats.aio.client import Client as NATS
from prometheus_client import Gauge

from shared.contracts.directory import DOMAIN
from shared.contracts.subjects import DIRECTORY_STREAM
from shared.nats import ensure_stream, stream_config
from shared.outbox import OutboxRelay
from tickets.adapters.relay import envelope_relay
from tickets.application.directory import DirectoryApplication
from tickets.application.directory_events import to_public
from tickets.entrypoints.workers import _supervised, single_relay
from tickets.settings import TicketsSettings

DIRECTORY_RELAY_POSITION = Gauge(
    "helpdesk_directory_relay_notification_id", "Last directory notification id published to JetStream"
)


async def migrate_directory_stream(settings: TicketsSettings, js: Any) -> None:
    common = settings.common
    config = stream_config(DIRECTORY_STREAM, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
    await ensure_stream(js, config)


def start_directory_relay(
    settings: TicketsSettings, *, app: DirectoryApplication, nc: NATS, stop: asyncio.Event
) -> tuple[OutboxRelay[Notification], asyncio.Task[None]]:
    """Publish the directory's store to its stream until `stop` (`relay.wake()` after each save)."""
    relay = envelope_relay(
        js=nc.jetstream(),
        source=app.recorder,
        to_envelope=lambda n: to_public(app.mapper.to_domain_event(n)),
        prefix=settings.common.nats_prefix,
        stream=DIRECTORY_STREAM,
        domain=DOMAIN,
        position_gauge=DIRECTORY_RELAY_POSITION,
        idle_wait=0.5,
    )
    single = single_relay(settings, relay=relay, nc=nc, recorder=app.recorder)
    work = _supervised("directory-relay", single, stop)
    return relay, asyncio.create_task(work, name="directory-relay")
