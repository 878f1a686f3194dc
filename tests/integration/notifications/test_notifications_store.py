"""The store, the relay and the derived views, on SQLite and PostgreSQL, against a real nats-server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from notifications.adapters.relay import HEADER_STORE_POSITION, Relay, popup_relay
from notifications.application.replay import changes_since
from notifications.application.service import Recipient
from notifications.application.store import PopupStore, open_store
from notifications.bootstrap import (
    build_service,
    migrate,
    open_active_view,
    open_view_db,
    seed_demo,
    stream_name,
)
from notifications.projections.active import ActivePopups
from notifications.settings import NotificationsSettings
from shared.contracts.envelope import HEADER_MSG_ID
from shared.contracts.popups_v2 import parse_popup_event
from shared.contracts.subjects import POPUPS_STREAM
from tests.support.notifications import FakeClock, send

pytestmark = pytest.mark.integration
U1 = Recipient(account_id="hotel-a", user_id="u1")


def relay(store: PopupStore, js: JetStreamContext, settings: NotificationsSettings) -> Relay:
    return popup_relay(
        store,
        js=js,
        stream=stream_name(settings, POPUPS_STREAM),
        prefix=settings.common.nats_prefix,
        path_template=settings.ticket_path_template,
        poll_seconds=0.05,
    )


async def stream_messages(
    js: JetStreamContext, settings: NotificationsSettings
) -> list[tuple[int, str, str]]:
    name = stream_name(settings, POPUPS_STREAM)
    info = await js.stream_info(name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        msg = await js.get_msg(name, seq=seq)
        headers = msg.headers or {}
        envelope = parse_popup_event(msg.data or b"")
        assert headers[HEADER_MSG_ID] == str(envelope.event_id)
        out.append((int(headers[HEADER_STORE_POSITION]), envelope.type, str(envelope.aggregate_id)))
    return out


async def test_the_relay_publishes_each_event_once_in_store_order_and_resumes_after_a_restart(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    js = nc.jetstream()
    service = build_service(store, settings, FakeClock())
    first = send(service)
    service.mark_delivered(first, by=U1)
    service.delete(first, by=U1)
    assert await relay(store, js, settings).publish_pending() == 3

    restarted = relay(store, js, settings)
    assert await restarted.publish_pending() == 0  # nothing twice after a restart
    second = send(service)
    assert await restarted.publish_pending() == 1
    published = await stream_messages(js, settings)
    assert [(t, a) for _, t, a in published] == [
        ("popup.raised", str(first)),
        ("popup.delivered", str(first)),
        ("popup.deleted", str(first)),
        ("popup.raised", str(second)),
    ]
    positions = [p for p, _, _ in published]
    assert positions == sorted(positions) and len(set(positions)) == 4


async def test_two_relays_running_at_once_neither_double_nor_reorder_an_event(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    js = nc.jetstream()
    service = build_service(store, settings, FakeClock())
    a, b = relay(store, js, settings), relay(store, js, settings)
    for _ in range(4):
        for _ in range(5):
            send(service)
        for _ in range(3):  # a refused relay re-reads its position and tries again
            await asyncio.gather(a.publish_pending(), b.publish_pending())
    published = await stream_messages(js, settings)
    positions = [p for p, _, _ in published]
    assert len(published) == 20
    assert positions == sorted(set(positions))


async def test_the_active_view_rebuilt_from_the_log_equals_the_one_followed_live(
    store: PopupStore, settings: NotificationsSettings
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    live = ActivePopups(store, open_view_db(settings), batch=3)
    try:
        ids = [send(service) for _ in range(4)] + [send(service, user_id=None), send(service, user_id="u2")]
        live.catch_up()
        service.delete(ids[0], by=U1)
        service.open(ids[1], by=U1)
        service.snooze(ids[2], by=U1, until=clock.now() + timedelta(minutes=10))
        live.catch_up()
        followed = live.rows()
        shown = live.for_recipient(account_id="hotel-a", user_id="u1", now=clock.now())
        assert [p.id for p in shown] == [ids[3], ids[4]]

        assert live.rebuild() > 0  # dropped and replayed from the start…
        assert live.rows() == followed  # …gives the very same rows
        assert live.recorded_position() == store.head()

        clock.advance(minutes=11)
        assert live.snoozes_due(clock.now()) == [ids[2]]
        assert service.end_snooze_if_due(ids[2])
        assert not service.end_snooze_if_due(ids[2])
        live.catch_up()
        assert live.snoozes_due(clock.now()) == []
        assert len(live.for_recipient(account_id="hotel-a", user_id="u1", now=clock.now())) == 3
        assert live.for_recipient(account_id="hotel-b", user_id="u1", now=clock.now()) == []
    finally:
        live.close()


async def test_a_replay_since_a_position_holds_only_that_recipients_changes(
    store: PopupStore, settings: NotificationsSettings
) -> None:
    service = build_service(store, settings, FakeClock())
    send(service)
    start = store.head()
    mine, desk = send(service), send(service, user_id=None)
    send(service, user_id="u2")
    send(service, account_id="hotel-b")
    service.delete(mine, by=U1)
    replay = changes_since(
        store, start, upto=store.head(), recipient=U1, path_template="/{ticket_number}", limit=100
    )
    assert replay.complete
    assert [(e.envelope.type, e.envelope.aggregate_id) for e in replay.events] == [
        ("popup.raised", mine),
        ("popup.raised", desk),
        ("popup.deleted", mine),
    ]
    too_long = changes_since(store, 0, upto=store.head(), recipient=U1, path_template="/", limit=2)
    assert not too_long.complete and too_long.events == []


async def test_the_demo_seed_raises_one_welcome_popup_however_often_it_runs(
    sqlite_settings: NotificationsSettings,
) -> None:
    await migrate(sqlite_settings)
    await seed_demo(sqlite_settings)
    await seed_demo(sqlite_settings)
    store = open_store(sqlite_settings.store_env(create_tables=False))
    view = open_active_view(store, sqlite_settings)
    try:
        view.catch_up()
        shown = view.for_recipient(account_id="demo-hotel", user_id="demo-user", now=FakeClock().now())
        assert [p.title for p in shown] == ["Welcome to OtelMS Helpdesk"]
    finally:
        view.close()
        store.close()
