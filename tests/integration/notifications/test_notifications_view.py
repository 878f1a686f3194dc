"""The persisted active-popups view, on SQLite and PostgreSQL: resumes, atomic batches, shared by
replicas, an indexed due scan."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from notifications.application.service import Recipient
from notifications.application.store import PopupStore
from notifications.bootstrap import build_service, open_view_db
from notifications.projections.active import DUE_SCAN, ActivePopups
from notifications.settings import NotificationsSettings
from shared.days import to_micros
from tests.support.notifications import FakeClock, send

pytestmark = pytest.mark.integration
U1 = Recipient(account_id="hotel-a", user_id="u1")


@pytest.fixture
def views(store: PopupStore, settings: NotificationsSettings) -> Iterator[Any]:
    """`views(batch=…)` opens a view on its own connection, as each replica does; closed afterwards."""
    opened: list[ActivePopups] = []

    def open_view(batch: int = 500) -> ActivePopups:
        view = ActivePopups(store, open_view_db(settings), batch=batch)
        opened.append(view)
        return view

    yield open_view
    for view in opened:
        view.close()


class CountingReads:
    """Counts the store events a view reads (to prove a restart does not replay the log)."""

    def __init__(self, store: PopupStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read = 0
        original = store.notifications_after

        def counted(position: int, *, limit: int) -> Any:
            found = original(position, limit=limit)
            self.read += len(found)
            return found

        monkeypatch.setattr(store, "notifications_after", counted)


async def test_a_restarted_view_resumes_from_its_recorded_position_instead_of_replaying_the_log(
    store: PopupStore, settings: NotificationsSettings, views: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build_service(store, settings, FakeClock())
    first = views()
    for _ in range(6):
        service.delete(send(service), by=U1)
    kept = send(service)
    assert first.catch_up() == 13
    first.close()

    reads = CountingReads(store, monkeypatch)
    restarted = views()
    assert restarted.recorded_position() == store.head()
    assert restarted.catch_up() == 0 and reads.read == 0  # nothing replayed
    later = send(service)
    assert restarted.catch_up() == 1 and reads.read == 1  # only what is new
    shown = restarted.for_recipient(account_id="hotel-a", user_id="u1", now=FakeClock().now())
    assert [p.id for p in shown] == [kept, later]


async def test_a_batch_that_fails_midway_leaves_neither_its_rows_nor_its_position(
    store: PopupStore, settings: NotificationsSettings, views: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build_service(store, settings, FakeClock())
    view = views(batch=10)
    send(service)
    view.catch_up()
    before, position = view.rows(), view.recorded_position()
    for _ in range(4):
        send(service)
    original, calls = store.decode, {"n": 0}

    def fails_on_the_third(notification: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("crash in the middle of a batch")
        return original(notification)

    monkeypatch.setattr(store, "decode", fails_on_the_third)
    with pytest.raises(RuntimeError, match="crash"):
        view.catch_up()
    assert view.rows() == before and view.recorded_position() == position  # all or nothing

    monkeypatch.setattr(store, "decode", original)
    assert view.catch_up() == 4
    assert len(view.rows()) == 5 and view.recorded_position() == store.head()


async def test_replicas_following_one_store_at_once_apply_each_event_exactly_once(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    service = build_service(store, settings, FakeClock())
    replicas = [views(batch=4) for _ in range(3)]
    for round_ in range(3):
        ids = [send(service) for _ in range(6)]
        service.delete(ids[0], by=U1)
        service.snooze(ids[1], by=U1, until=FakeClock().now() + timedelta(minutes=5 + round_))
        await asyncio.gather(*(asyncio.to_thread(r.catch_up) for r in replicas))
    followed = replicas[0].rows()
    assert len(followed) == 15 and all(r.rows() == followed for r in replicas)
    assert all(r.recorded_position() == store.head() for r in replicas)
    check = views()
    check.rebuild()
    assert check.rows() == followed


async def test_the_due_scan_finds_only_snoozes_whose_time_has_come_through_its_index(
    store: PopupStore, settings: NotificationsSettings, views: Any
) -> None:
    clock = FakeClock()
    service = build_service(store, settings, clock)
    view = views()
    soon, later, shown = send(service), send(service), send(service)
    service.snooze(soon, by=U1, until=clock.now() + timedelta(minutes=5))
    service.snooze(later, by=U1, until=clock.now() + timedelta(minutes=50))
    view.catch_up()
    assert view.snoozes_due(clock.now()) == []
    clock.advance(minutes=5)  # exactly at its end: due
    assert view.snoozes_due(clock.now()) == [soon]
    assert [p.id for p in view.for_recipient(account_id="hotel-a", user_id="u1", now=clock.now())] == [
        soon,
        shown,
    ]
    clock.advance(hours=1)
    assert view.snoozes_due(clock.now()) == [soon, later]

    query = DUE_SCAN.format(active=view.db.table("active_popups"))
    params = {"now": to_micros(clock.now()), "limit": 500}
    with view.db.transaction() as tx:
        if view.db.dialect == "postgres":  # a tiny table: make the planner show what it would use
            tx.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in tx.fetch("EXPLAIN " + query, params))
        else:
            plan = " ".join(str(row[-1]) for row in tx.fetch("EXPLAIN QUERY PLAN " + query, params))
    assert "active_popups_snoozed" in plan, plan
