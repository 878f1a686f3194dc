"""The persisted popup-history view, on SQLite and PostgreSQL: followed like the active view,
rebuilt to the same rows by `helpdesk rebuild popups`, and filled from the start of the log when it
is added to a store that already holds popups."""

# ruff: noqa: S608 -- table names from code, as in the views themselves
from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from notifications.application.service import Recipient
from notifications.application.store import PopupStore
from notifications.bootstrap import SERVICE, build_service, open_view_db, rebuild_views
from notifications.projections.active import ActivePopups
from notifications.projections.follower import POSITIONS
from notifications.projections.history import HistoryQuery, PopupHistory
from notifications.settings import NotificationsSettings
from shared.contracts.popups import PopupStatus
from shared.days import day_end, day_start, time_zone, to_micros
from tests.support.notifications import FakeClock, send

pytestmark = pytest.mark.integration
U1 = Recipient(account_id="hotel-a", user_id="u1")


@pytest.fixture
def views(store: PopupStore, settings: NotificationsSettings) -> Iterator[Any]:
    """`views(kind, batch=…)` opens a view on its own connection, as each replica does."""
    opened: list[Any] = []

    def open_view(kind: type[Any] = PopupHistory, batch: int = 500) -> Any:
        view = kind(store, open_view_db(settings), batch=batch)
        opened.append(view)
        return view

    yield open_view
    for view in opened:
        view.close()


def everything(clock: FakeClock, **filters: Any) -> HistoryQuery:
    return HistoryQuery(
        account_id="hotel-a", user_id="u1", now_us=to_micros(clock.now()), limit=100, **filters
    )


async def test_the_history_keeps_every_popup_and_a_rebuild_gives_the_same_rows(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    live = views(batch=3)
    ids = []
    for _ in range(5):
        ids.append(send(service))
        clock.advance(minutes=1)
    everyone, colleague = send(service, user_id=None), send(service, user_id="u2")
    elsewhere = send(service, account_id="hotel-b")
    live.catch_up()
    service.delete(ids[0], by=U1)
    service.open(ids[1], by=U1)
    service.snooze(ids[2], by=U1, until=clock.now() + timedelta(minutes=10))
    service.mark_delivered(ids[3], by=U1)
    clock.advance(minutes=11)
    assert service.end_snooze_if_due(ids[2])
    live.catch_up()

    found = {entry.id: entry for entry in live.page(everything(clock))}
    assert set(found) == {*ids, everyone}
    assert colleague not in found and elsewhere not in found
    assert [found[i].status for i in ids] == [
        PopupStatus.DELETED,
        PopupStatus.OPENED,
        PopupStatus.DUE,
        PopupStatus.DELIVERED,
        PopupStatus.RAISED,
    ]
    assert found[ids[0]].text == "text" and found[ids[2]].changed_at == clock.now()
    assert found[ids[4]].changed_at == found[ids[4]].raised_at

    followed = live.rows()
    assert live.rebuild() > 0
    assert live.rows() == followed
    assert live.recorded_position() == store.head()
    other = views(batch=7)
    assert other.rebuild() > 0
    assert other.rows() == followed  # whatever the batch size


async def test_a_snooze_whose_time_came_counts_as_due_in_the_status_filter(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    view = views()
    snoozed, shown = send(service), send(service)
    service.snooze(snoozed, by=U1, until=clock.now() + timedelta(minutes=5))
    view.catch_up()
    assert [e.id for e in view.page(everything(clock, statuses=[PopupStatus.SNOOZED]))] == [snoozed]
    assert view.page(everything(clock, statuses=[PopupStatus.DUE])) == []
    clock.advance(minutes=5)  # not recorded yet: the status is seen at the time of reading
    assert view.page(everything(clock, statuses=[PopupStatus.SNOOZED])) == []
    assert [e.id for e in view.page(everything(clock, statuses=[PopupStatus.DUE]))] == [snoozed]
    both = everything(clock, statuses=[PopupStatus.DUE, PopupStatus.RAISED])
    assert {e.id for e in view.page(both)} == {snoozed, shown}


async def test_days_are_taken_in_the_time_zone_given(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 22, 30, tzinfo=UTC))  # 00:30 on 2 March in Kyiv
    service = build_service(store, settings, clock)
    popup = send(service)
    view = views()
    view.catch_up()
    kyiv = time_zone("Europe/Kyiv")

    def on(day: date, zone: Any) -> list[Any]:
        query = everything(clock, raised_from_us=day_start(day, zone), raised_to_us=day_end(day, zone))
        return [e.id for e in view.page(query)]

    assert on(date(2026, 3, 2), kyiv) == [popup]
    assert on(date(2026, 3, 1), kyiv) == []
    assert on(date(2026, 3, 1), UTC) == [popup]
    assert on(date.max, kyiv) == [] and on(date.min, time_zone("Pacific/Kiritimati")) == []


async def test_a_history_added_to_a_store_that_holds_popups_fills_itself_from_the_start(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    """As on a deployment that had only the active view: its position row is new, at 0."""
    service = build_service(store, settings, FakeClock())
    first, second = send(service), send(service)
    service.delete(first, by=U1)
    active = views(ActivePopups)
    active.catch_up()
    db = active.db
    with db.transaction() as tx:  # as before the history existed
        tx.execute(f"DROP TABLE {db.table('popup_history')}")
        tx.execute(f"DELETE FROM {db.table(POSITIONS)} WHERE projection = 'popup_history'")
    PopupHistory.create_tables(db)  # what `migrate` does on the upgrade
    history = views()
    assert history.recorded_position() == 0
    assert history.catch_up() == store.head()
    assert {e.id for e in history.page(everything(FakeClock()))} == {first, second}
    assert active.recorded_position() == store.head()  # the active view did not move


async def test_the_rebuild_command_rebuilds_the_active_view_and_the_history(
    store: PopupStore, settings: NotificationsSettings, views: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build_service(store, settings, FakeClock())
    kept, gone = send(service), send(service)
    service.delete(gone, by=U1)
    active, history = views(ActivePopups), views()
    active.catch_up()
    history.catch_up()
    before = (active.rows(), history.rows())
    with history.db.transaction() as tx:  # a view damaged by hand: the rebuild repairs it
        tx.execute(f"DELETE FROM {history.db.table('popup_history')}")

    parser = argparse.ArgumentParser()
    assert SERVICE.add_cli_commands is not None
    SERVICE.add_cli_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rebuild", "popups"])
    assert callable(args.func)
    positions = await rebuild_views(settings)
    assert positions == {"active_popups": store.head(), "popup_history": store.head()}
    assert (active.rows(), history.rows()) == before
    assert [e.id for e in history.page(everything(FakeClock()))] in ([gone, kept], [kept, gone])
