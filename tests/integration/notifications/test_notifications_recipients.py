"""A popup sent to a whole account, on SQLite and PostgreSQL against a real nats-server: each user's
deleting, opening or snoozing it shows in their own active list, history and tabs only; the views
rebuilt from the log hold the same rows; the relay publishes each user's change for them alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from notifications.application.replay import changes_since
from notifications.application.service import Recipient
from notifications.application.store import PopupStore
from notifications.bootstrap import build_service, open_view_db, stream_name
from notifications.domain.ids import recipient_state_id
from notifications.projections.active import OWN_DUE_SCAN, ActivePopups
from notifications.projections.history import HistoryQuery, PopupHistory
from notifications.settings import NotificationsSettings
from shared.contracts.popups import PopupStatus
from shared.contracts.popups_v2 import parse_popup_event
from shared.contracts.subjects import POPUPS_STREAM
from shared.days import to_micros
from tests.conftest import TokenFactory
from tests.integration.notifications.test_notifications_store import relay
from tests.support.notifications import FakeClock, open_sse, running, send

pytestmark = pytest.mark.integration
ANNA = Recipient(account_id="hotel-a", user_id="anna")
BOHDAN = Recipient(account_id="hotel-a", user_id="bohdan")
CHRYSTYA = Recipient(account_id="hotel-a", user_id="chrystya")


@pytest.fixture
def views(store: PopupStore, settings: NotificationsSettings) -> Iterator[Any]:
    opened: list[Any] = []

    def open_view(kind: type[Any], batch: int = 500) -> Any:
        view = kind(store, open_view_db(settings), batch=batch)
        opened.append(view)
        return view

    yield open_view
    for view in opened:
        view.close()


def shown(view: ActivePopups, who: Recipient, clock: FakeClock) -> list[Any]:
    return [p.id for p in view.for_recipient(account_id=who.account_id, user_id=who.user_id, now=clock.now())]


def history(view: PopupHistory, who: Recipient, clock: FakeClock, **filters: Any) -> dict[Any, PopupStatus]:
    query = HistoryQuery(
        account_id=who.account_id, user_id=who.user_id, now_us=to_micros(clock.now()), limit=100, **filters
    )
    return {entry.id: entry.status_at(clock.now()) for entry in view.page(query)}


async def test_each_users_action_on_an_account_popup_shows_in_their_own_views_only_and_rebuilds_alike(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    active, past = views(ActivePopups, batch=3), views(PopupHistory, batch=3)
    desk, notice = send(service, user_id=None), send(service, user_id=None)
    mine = send(service, user_id="anna")
    service.delete(desk, by=ANNA)
    service.open(notice, by=ANNA)
    service.snooze(desk, by=BOHDAN, until=clock.now() + timedelta(minutes=10))
    service.mark_delivered(notice, by=BOHDAN)
    active.catch_up()
    past.catch_up()

    assert shown(active, ANNA, clock) == [mine]
    assert shown(active, BOHDAN, clock) == [notice]  # the desk popup is snoozed, for him only
    assert shown(active, CHRYSTYA, clock) == [desk, notice]
    assert history(past, ANNA, clock) == {
        desk: PopupStatus.DELETED,
        notice: PopupStatus.OPENED,
        mine: PopupStatus.RAISED,
    }
    assert history(past, BOHDAN, clock) == {desk: PopupStatus.SNOOZED, notice: PopupStatus.DELIVERED}
    assert history(past, CHRYSTYA, clock) == {desk: PopupStatus.RAISED, notice: PopupStatus.RAISED}
    assert history(past, ANNA, clock, statuses=[PopupStatus.DELETED]) == {desk: PopupStatus.DELETED}
    assert history(past, CHRYSTYA, clock, statuses=[PopupStatus.DELETED]) == {}

    followed = [(v.rows(), v.recipient_rows()) for v in (active, past)]
    for view in (active, past):
        assert view.rebuild() > 0
    assert [(v.rows(), v.recipient_rows()) for v in (active, past)] == followed
    fresh = [views(ActivePopups, batch=7), views(PopupHistory, batch=7)]
    for view in fresh:
        view.catch_up()
    assert [(v.rows(), v.recipient_rows()) for v in fresh] == followed


async def test_a_users_own_snooze_comes_due_through_its_index_for_them_alone(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    active = views(ActivePopups)
    desk = send(service, user_id=None)
    service.snooze(desk, by=ANNA, until=clock.now() + timedelta(minutes=5))
    service.snooze(desk, by=BOHDAN, until=clock.now() + timedelta(minutes=50))
    active.catch_up()
    assert active.own_snoozes_due(clock.now()) == [] and active.snoozes_due(clock.now()) == []
    clock.advance(minutes=5)
    assert active.own_snoozes_due(clock.now()) == [(desk, "anna")]
    assert service.end_snooze_if_due(desk, "anna")
    active.catch_up()
    assert active.own_snoozes_due(clock.now()) == []
    assert shown(active, ANNA, clock) == [desk] and shown(active, BOHDAN, clock) == []
    assert service.get(desk, by=ANNA).status is PopupStatus.DUE

    query = OWN_DUE_SCAN.format(recipients=active.db.table("active_popups_recipients"))
    params = {"now": to_micros(clock.now()), "limit": 500}
    with active.db.transaction() as tx:
        if active.db.dialect == "postgres":  # a tiny table: make the planner show what it would use
            tx.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in tx.fetch("EXPLAIN " + query, params))
        else:
            plan = " ".join(str(row[-1]) for row in tx.fetch("EXPLAIN QUERY PLAN " + query, params))
    assert "active_popups_own_snoozed" in plan, plan


async def test_the_relay_publishes_a_users_own_change_as_version_2_for_them_and_a_replay_skips_it_for_others(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    js = nc.jetstream()
    service = build_service(store, settings, FakeClock())
    desk = send(service, user_id=None)
    start = store.head()
    service.delete(desk, by=ANNA)
    service.mark_delivered(desk, by=BOHDAN)
    assert await relay(store, js, settings).publish_pending() == 3

    name = stream_name(settings, POPUPS_STREAM)
    info = await js.stream_info(name)
    messages = [await js.get_msg(name, seq=s) for s in range(info.state.first_seq, info.state.last_seq + 1)]
    assert [str(m.subject).split(".", 1)[1] for m in messages] == [
        "helpdesk.popups.v2.raised",
        "helpdesk.popups.v2.deleted",
        "helpdesk.popups.v2.delivered",
    ]
    raised, deleted, delivered = (parse_popup_event(m.data or b"") for m in messages)
    assert raised.data.recipient_id is None and raised.aggregate_id == desk
    assert deleted.data.recipient_id == "anna" and deleted.data.popup.status is PopupStatus.DELETED
    assert deleted.aggregate_id == recipient_state_id(desk, "anna")
    assert delivered.data.recipient_id == "bohdan" and delivered.data.popup.popup_id == desk

    for who, expected in ((ANNA, ["popup.deleted"]), (BOHDAN, ["popup.delivered"]), (CHRYSTYA, [])):
        replay = changes_since(store, start, upto=store.head(), recipient=who, path_template="/", limit=100)
        assert replay.complete and [e.envelope.type for e in replay.events] == expected


async def test_one_users_delete_reaches_all_their_tabs_and_no_colleagues_list_tab_or_history(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    anna, bohdan = make_token(sub="anna"), make_token(sub="bohdan")
    async with running(settings) as svc, svc.client(agent) as ag:
        tabs = [await open_sse(svc.base_url, anna) for _ in range(2)]
        colleague = await open_sse(svc.base_url, bohdan)
        try:
            sent = await ag.post(
                "/api/v1/messages", json={"account_id": "hotel-a", "text": "Lift out of order"}
            )
            desk = sent.json()["popup_id"]
            for reader in (*tabs, colleague):
                assert (await reader.next("popup.raised")).data["data"]["popup"]["popup_id"] == desk

            async with svc.client(anna) as a:
                gone = await a.post(f"/api/v1/popups/{desk}/delete")
                assert gone.status_code == 200 and gone.json()["status"] == "deleted"
                assert (await a.get("/api/v1/popups")).json()["items"] == []
                assert (await a.post(f"/api/v1/popups/{desk}/open")).status_code == 409
                mine = (await a.get("/api/v1/popups/history")).json()["items"]
                assert [(p["popup_id"], p["status"]) for p in mine] == [(desk, "deleted")]
            for tab in tabs:
                deleted = await tab.next("popup.deleted")
                assert deleted.data["data"]["recipient_id"] == "anna"
                assert deleted.data["data"]["popup"]["version"] > 1

            async with svc.client(bohdan) as b:
                still = (await b.get("/api/v1/popups")).json()["items"]
                assert [(p["popup_id"], p["status"]) for p in still] == [(desk, "raised")]
                theirs = (await b.get("/api/v1/popups/history")).json()["items"]
                assert [(p["popup_id"], p["status"]) for p in theirs] == [(desk, "raised")]
                assert (await b.post(f"/api/v1/popups/{desk}/delivered")).json()["status"] == "delivered"
            # His stream's next popup event is his own delivery: Anna's delete never reached it.
            after = await colleague.next()
            while not after.event.startswith("popup."):
                after = await colleague.next()
            assert after.event == "popup.delivered" and after.data["data"]["recipient_id"] == "bohdan"
        finally:
            for reader in (*tabs, colleague):
                await reader.close()
