"""The in-process side of the fan-out: who gets a change, and what happens to a tab that lags."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from notifications.adapters.fanout import Change, Hub
from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.popups import PopupDeleted, PopupEventData, PopupKind, PopupSnapshot, PopupStatus

pytestmark = pytest.mark.unit


def change(position: int, *, account_id: str = "hotel-a", user_id: str | None = "u1") -> Change:
    popup_id = uuid4()
    popup = PopupSnapshot(
        popup_id=popup_id,
        account_id=account_id,
        user_id=user_id,
        kind=PopupKind.MESSAGE,
        status=PopupStatus.DELETED,
        title="t",
        text="x",
        raised_at=datetime(2026, 1, 5, tzinfo=UTC),
        version=2,
    )
    envelope = EventEnvelope[PopupEventData](
        event_id=uuid4(),
        type="popup.deleted",
        schema_version=1,
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        account_id=account_id,
        aggregate_id=popup_id,
        aggregate_version=2,
        actor=Actor(kind=ActorKind.USER, id="u1"),
        data=PopupDeleted(popup=popup),
    )
    return Change(position, envelope)


async def test_a_change_reaches_the_users_streams_and_an_account_wide_one_every_user_of_that_account() -> (
    None
):
    hub = Hub(prefix="", queue_size=10)
    tab1, tab2 = (
        hub.connect(account_id="hotel-a", user_id="u1"),
        hub.connect(account_id="hotel-a", user_id="u1"),
    )
    colleague = hub.connect(account_id="hotel-a", user_id="u2")
    stranger = hub.connect(account_id="hotel-b", user_id="u1")
    hub.publish_locally(change(1))
    hub.publish_locally(change(2, user_id=None))
    assert [tab1.queue.qsize(), tab2.queue.qsize(), colleague.queue.qsize(), stranger.queue.qsize()] == [
        2,
        2,
        1,
        0,
    ]


async def test_a_tab_that_cannot_keep_up_is_closed_and_the_others_keep_receiving() -> None:
    hub = Hub(prefix="", queue_size=2)
    slow, fast = (
        hub.connect(account_id="hotel-a", user_id="u1"),
        hub.connect(account_id="hotel-a", user_id="u1"),
    )
    for position in (1, 2):
        hub.publish_locally(change(position))
    fast.queue.get_nowait(), fast.queue.get_nowait()
    hub.publish_locally(change(3))
    assert slow.queue.get_nowait() is None  # closed: its browser reconnects with Last-Event-ID
    hub.publish_locally(change(4))
    assert slow.queue.empty()
    assert [fast.queue.get_nowait().position, fast.queue.get_nowait().position] == [3, 4]  # type: ignore[union-attr]


async def test_stopping_ends_every_open_stream() -> None:
    hub = Hub(prefix="", queue_size=2)
    streams = [hub.connect(account_id="hotel-a", user_id=f"u{i}") for i in range(3)]
    await hub.stop()
    assert all(s.queue.get_nowait() is None for s in streams)
