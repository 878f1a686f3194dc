"""The popup store restored to an earlier point (deploy/README.md, "Restoring PostgreSQL"): on
PostgreSQL the relay and the service's start-up number every new event after the POPUPS stream's
position, so each reaches the stream once; on SQLite, which cannot be renumbered, both refuse."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from notifications.adapters.relay import HEADER_STORE_POSITION, Relay, popup_relay
from notifications.application.public import public_event
from notifications.application.store import PopupStore
from notifications.bootstrap import build_service, create_app, stream_name
from notifications.domain.clock import SystemClock
from notifications.settings import NotificationsSettings
from shared.contracts.envelope import HEADER_MSG_ID
from shared.contracts.subjects import POPUPS_STREAM
from shared.storenumbering import StoreBehindStream
from tests.support.notifications import send
from tests.support.restore import restore_to

pytestmark = pytest.mark.integration

PATH = "/{ticket_number}"


def relay_of(store: PopupStore, settings: NotificationsSettings, js: JetStreamContext) -> Relay:
    """The relay as a new process builds it: its position read back from the stream."""
    stream = stream_name(settings, POPUPS_STREAM)
    prefix = settings.common.nats_prefix
    return popup_relay(store, js=js, stream=stream, prefix=prefix, path_template=PATH, poll_seconds=30.0)


def write(store: PopupStore, settings: NotificationsSettings, count: int) -> None:
    service = build_service(store, settings, SystemClock())
    for _ in range(count):
        send(service)


def public_events(store: PopupStore) -> list[tuple[int, str]]:
    """Each stored event with a public form: its store position and message id, in store order."""
    found = []
    for notification in store.notifications_after(0, limit=10_000):
        event = public_event(store, notification, path_template=PATH)
        if event is not None:
            found.append((notification.id, event.envelope.event_id.hex))
    return found


async def published(js: JetStreamContext, stream: str) -> list[tuple[int, str]]:
    info = await js.stream_info(stream)
    headers = [(await js.get_msg(stream, seq=s)).headers or {} for s in range(1, info.state.last_seq + 1)]
    return [(int(h[HEADER_STORE_POSITION]), h[HEADER_MSG_ID].replace("-", "")) for h in headers]


@dataclass(frozen=True)
class Restored:
    js: JetStreamContext
    stream: str
    before: list[tuple[int, str]]  # what the stream held
    point: int  # the store's last event after the restore


async def published_then_restored(store: PopupStore, settings: NotificationsSettings, nc: NATS) -> Restored:
    """Three popups published, then the store restored to the point after the first."""
    js = nc.jetstream()
    write(store, settings, 1)
    point = store.head()
    write(store, settings, 2)
    await relay_of(store, settings, js).publish_pending()
    stream = stream_name(settings, POPUPS_STREAM)
    before = await published(js, stream)
    assert before == public_events(store)
    assert before[-1][0] > point
    restore_to(store.recorder, point)
    return Restored(js, stream, before, point)


@pytest.mark.parametrize("store_kind", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_the_relay_on_a_restored_postgres_store_publishes_each_new_popup_once_after_the_stream(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    restored = await published_then_restored(store, settings, nc)
    relay = relay_of(store, settings, restored.js)
    assert await relay.publish_pending() == 0  # nothing new yet: the store is advanced
    write(store, settings, 2)
    await relay.publish_pending()

    new = [event for event in public_events(store) if event[0] > restored.point]
    assert len(new) >= 2
    assert min(n for n, _ in new) > restored.before[-1][0]
    assert await published(restored.js, restored.stream) == restored.before + new


@pytest.mark.parametrize("store_kind", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_the_service_starting_on_a_restored_postgres_store_numbers_its_writes_after_the_stream(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    restored = await published_then_restored(store, settings, nc)
    without_relay = settings.model_copy(update={"run_relay": False})
    app = create_app(without_relay)
    async with app.router.lifespan_context(app):
        write(store, settings, 2)  # while it runs: written after its start-up
    await relay_of(store, settings, restored.js).publish_pending()

    new = [event for event in public_events(store) if event[0] > restored.point]
    assert len(new) >= 2
    assert min(n for n, _ in new) > restored.before[-1][0]
    assert await published(restored.js, restored.stream) == restored.before + new


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
async def test_the_relay_and_the_service_refuse_a_restored_sqlite_store_behind_its_stream(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    restored = await published_then_restored(store, settings, nc)
    with pytest.raises(StoreBehindStream) as refused:
        await relay_of(store, settings, restored.js).publish_pending()
    assert (refused.value.store_position, refused.value.stream_position) == (
        restored.point,
        restored.before[-1][0],
    )
    app = create_app(settings)
    with pytest.raises(StoreBehindStream):
        async with app.router.lifespan_context(app):
            pass
    assert await published(restored.js, restored.stream) == restored.before
