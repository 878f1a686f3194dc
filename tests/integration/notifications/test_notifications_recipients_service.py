"""A popup sent to a whole account is each user's own: one user delivering, snoozing, opening or
deleting it changes it for them alone, in the domain, the commands, the public events and the fan-out
to open tabs. A popup to one user behaves as before. On every persistence module (in memory, SQLite,
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from notifications.adapters.fanout import Change, Hub
from notifications.application.public import PublicEvent, public_event
from notifications.application.service import SYSTEM_CAUSE, NewMessage, PopupService, Recipient
from notifications.application.store import PopupStore
from notifications.domain.errors import IllegalTransition
from notifications.domain.ids import recipient_state_id
from notifications.domain.model import Cause
from notifications.domain.recipient import RecipientState, SeenPopup
from shared.contracts.popups import PopupStatus
from tests.support.notifications import FakeClock
from tests.support.persistence import PersistenceEnv

pytestmark = pytest.mark.integration

A = Recipient(account_id="hotel-a", user_id="anna")
B = Recipient(account_id="hotel-a", user_id="bohdan")
PATH = "/help/requests/{ticket_number}"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ANNA = Cause(actor_kind="user", actor_id="anna", actor_name="", correlation_id=None, causation_id=None)


@pytest.fixture
def store(persistence_env: PersistenceEnv) -> Iterator[PopupStore]:
    opened = PopupStore(env=persistence_env())
    yield opened
    opened.close()


@pytest.fixture
def service(store: PopupStore) -> PopupService:
    return PopupService(
        store,
        clock=FakeClock(T0),
        default_snooze=timedelta(minutes=30),
        longest_snooze=timedelta(days=30),
        max_text=2000,
    )


def send(service: PopupService, *, user_id: str | None) -> UUID:
    message = NewMessage(uuid4(), "hotel-a", user_id, "t", "x", None, None)
    return service.send_message(message, cause=SYSTEM_CAUSE).id


def published(store: PopupStore) -> list[PublicEvent]:
    events = [public_event(store, n, path_template=PATH) for n in store.notifications_after(0, limit=100)]
    return [e for e in events if e is not None]


def test_a_recipients_own_state_starts_from_the_popup_and_changes_alone(
    service: PopupService, store: PopupStore
) -> None:
    popup = store.popup(send(service, user_id=None))
    own = RecipientState.start(popup, user_id="anna", at=T0, cause=ANNA)
    own.delete(at=T0, cause=ANNA)
    assert own.id == recipient_state_id(popup.id, "anna")
    assert popup.status is PopupStatus.RAISED and own.status is PopupStatus.DELETED
    assert SeenPopup(popup, own).status is PopupStatus.DELETED
    assert SeenPopup(popup, own).version > SeenPopup(popup).version
    with pytest.raises(IllegalTransition):
        own.open(at=T0, cause=ANNA)  # deleted is final for her, as for a popup


def test_one_user_deleting_a_popup_sent_to_the_account_leaves_it_new_for_a_colleague(
    service: PopupService, store: PopupStore
) -> None:
    desk = send(service, user_id=None)
    gone = service.delete(desk, by=A)
    assert gone.status is PopupStatus.DELETED
    assert service.get(desk, by=A).status is PopupStatus.DELETED
    assert service.get(desk, by=B).status is PopupStatus.RAISED
    assert store.popup(desk).status is PopupStatus.RAISED and store.popup(desk).version == 1
    with pytest.raises(IllegalTransition):
        service.open(desk, by=A)
    assert service.open(desk, by=B).status is PopupStatus.OPENED  # her colleague still can
    assert service.get(desk, by=A).status is PopupStatus.DELETED


@pytest.mark.parametrize("action", ["snooze", "open", "deliver"])
def test_each_action_of_one_user_on_an_account_popup_is_theirs_alone(
    service: PopupService, action: str
) -> None:
    desk = send(service, user_id=None)
    expected = {"snooze": PopupStatus.SNOOZED, "open": PopupStatus.OPENED, "deliver": PopupStatus.DELIVERED}
    act = {"snooze": service.snooze, "open": service.open, "deliver": service.mark_delivered}[action]
    assert act(desk, by=A).status is expected[action]
    assert service.get(desk, by=B).status is PopupStatus.RAISED


def test_a_users_snooze_of_an_account_popup_comes_due_for_them_alone(service: PopupService) -> None:
    clock = service.clock
    assert isinstance(clock, FakeClock)
    desk = send(service, user_id=None)
    service.mark_delivered(desk, by=B)
    service.snooze(desk, by=A, until=T0 + timedelta(minutes=5))
    assert not service.end_snooze_if_due(desk, "anna")
    clock.advance(minutes=5)
    assert service.end_snooze_if_due(desk, "anna")
    assert not service.end_snooze_if_due(desk, "anna")  # recorded once
    assert service.get(desk, by=A).status is PopupStatus.DUE
    assert service.get(desk, by=B).status is PopupStatus.DELIVERED


def test_a_popup_to_one_user_keeps_its_own_state_and_starts_no_recipient_state(
    service: PopupService, store: PopupStore
) -> None:
    mine = send(service, user_id="anna")
    service.delete(mine, by=A)
    assert store.popup(mine).status is PopupStatus.DELETED
    assert store.recipient_state(mine, "anna") is None


def test_a_users_own_change_is_published_for_them_alone_with_a_version_that_grows(
    service: PopupService, store: PopupStore
) -> None:
    desk = send(service, user_id=None)
    service.mark_delivered(desk, by=A)
    service.delete(desk, by=A)
    raised, delivered, deleted = published(store)
    assert raised.envelope.type == "popup.raised" and raised.envelope.data.recipient_id is None
    assert raised.is_for(account_id="hotel-a", user_id="anna")
    assert raised.is_for(account_id="hotel-a", user_id="bohdan")
    assert not raised.is_for(account_id="hotel-b", user_id="anna")
    assert [delivered.envelope.type, deleted.envelope.type] == ["popup.delivered", "popup.deleted"]
    for own in (delivered, deleted):
        assert own.envelope.schema_version == 2 and own.subject.startswith("helpdesk.popups.v2.")
        assert own.envelope.data.recipient_id == "anna"
        assert own.envelope.aggregate_id == recipient_state_id(desk, "anna")
        assert own.envelope.data.popup.popup_id == desk and own.envelope.data.popup.user_id is None
        assert own.is_for(account_id="hotel-a", user_id="anna")
        assert not own.is_for(account_id="hotel-a", user_id="bohdan")
    assert [delivered.envelope.aggregate_version, deleted.envelope.aggregate_version] == [1, 2]
    assert deleted.envelope.data.popup.status is PopupStatus.DELETED
    versions = [e.envelope.data.popup.version for e in (raised, delivered, deleted)]
    assert versions == sorted(set(versions))  # a tab keeps the newest by comparing them
    assert len({e.envelope.event_id for e in (raised, delivered, deleted)}) == 3


def test_the_fanout_sends_a_users_own_change_to_their_tabs_only(
    service: PopupService, store: PopupStore
) -> None:
    desk = send(service, user_id=None)
    service.delete(desk, by=A)
    raised, deleted = published(store)
    hub = Hub(prefix="", queue_size=8)
    anna_tabs = [hub.connect(account_id="hotel-a", user_id="anna") for _ in range(2)]
    bohdan = hub.connect(account_id="hotel-a", user_id="bohdan")
    for event in (raised, deleted):
        hub.publish_locally(Change(event.position, event.envelope))
    for tab in anna_tabs:
        got = [tab.queue.get_nowait(), tab.queue.get_nowait()]
        assert [c.envelope.type for c in got if isinstance(c, Change)] == ["popup.raised", "popup.deleted"]
    only = bohdan.queue.get_nowait()
    assert isinstance(only, Change) and only.envelope.type == "popup.raised"
    assert bohdan.queue.empty()
