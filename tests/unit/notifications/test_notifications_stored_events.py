"""Popup events stored by earlier releases still load: every stored topic resolves to today's event
class, the aggregates rebuild to the same state and the public events come out byte for byte as they
did when the events were written.

`fixtures/popups-before-explicit-events.sql` holds the rows of a SQLite store written by the code as it
stood before the popup events were declared as classes (one popup to one user and one to a whole
account through their whole lives, a user's own state of the latter, a ticket's requester); the
`.public.json` next to it is what that code published from them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from notifications.application.public import public_event
from notifications.application.store import PopupStore
from notifications.domain.model import Popup, TicketRequester
from notifications.domain.recipient import RecipientState
from shared.contracts.popups import PopupStatus

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
STORED = FIXTURES / "popups-before-explicit-events.sql"
PUBLISHED = FIXTURES / "popups-before-explicit-events.public.json"
PATH = "/help/requests/{ticket_number}"

ONE_USER = UUID("00000000-0000-4000-8000-000000000001")
WHOLE_ACCOUNT = UUID("00000000-0000-4000-8000-000000000002")
TICKET = UUID("00000000-0000-4000-8000-0000000000a1")

# The topics as they stand in the fixture, in the order they were stored, and the class each names.
STORED_TOPICS = [
    ("notifications.domain.model:Popup.Raised", Popup.Raised),
    ("notifications.domain.model:Popup.Delivered", Popup.Delivered),
    ("notifications.domain.model:Popup.Snoozed", Popup.Snoozed),
    ("notifications.domain.model:Popup.DueAgain", Popup.DueAgain),
    ("notifications.domain.model:Popup.Opened", Popup.Opened),
    ("notifications.domain.model:Popup.Deleted", Popup.Deleted),
    ("notifications.domain.model:Popup.Raised", Popup.Raised),
    ("notifications.domain.recipient:RecipientState.Started", RecipientState.Started),
    ("notifications.domain.recipient:RecipientState.Delivered", RecipientState.Delivered),
    ("notifications.domain.recipient:RecipientState.Snoozed", RecipientState.Snoozed),
    ("notifications.domain.recipient:RecipientState.DueAgain", RecipientState.DueAgain),
    ("notifications.domain.recipient:RecipientState.Opened", RecipientState.Opened),
    ("notifications.domain.recipient:RecipientState.Deleted", RecipientState.Deleted),
    ("notifications.domain.model:TicketRequester.Remembered", TicketRequester.Remembered),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PopupStore]:
    path = tmp_path / "popups.sqlite"
    with sqlite3.connect(path) as written:
        written.executescript(STORED.read_text())
    written.close()
    opened = PopupStore(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    yield opened
    opened.close()


def test_every_stored_topic_resolves_to_the_event_class_of_today(store: PopupStore) -> None:
    notifications = store.notifications_after(0, limit=100)
    assert [n.topic for n in notifications] == [topic for topic, _ in STORED_TOPICS]
    decoded: list[type[object]] = [type(store.decode(n)) for n in notifications]
    assert decoded == [cls for _, cls in STORED_TOPICS]


def test_stored_popups_and_a_users_own_state_rebuild_to_where_they_were_left(store: PopupStore) -> None:
    one = store.popup(ONE_USER)
    assert (one.status, one.snoozed_until, one.version) == (PopupStatus.DELETED, None, 6)
    assert (one.user_id, one.ticket_number, one.fingerprint) == ("anna", "HD-1", None)
    desk = store.popup(WHOLE_ACCOUNT)
    assert (desk.status, desk.user_id, desk.fingerprint) == (PopupStatus.RAISED, None, "f" * 64)
    own = store.recipient_state(WHOLE_ACCOUNT, "anna")
    assert own is not None
    assert (own.status, own.base_version, own.seen_version) == (PopupStatus.DELETED, 1, 7)
    snoozed = store.popup(ONE_USER, version=3)
    assert snoozed.status is PopupStatus.SNOOZED and snoozed.snoozed_until is not None
    requester: object = store.repository.get(TicketRequester.create_id(TICKET))
    assert isinstance(requester, TicketRequester) and requester.user_id == "anna"


def test_stored_events_are_published_as_they_were_when_stored(store: PopupStore) -> None:
    published = []
    for notification in store.notifications_after(0, limit=100):
        event = public_event(store, notification, path_template=PATH)
        published.append(
            None
            if event is None
            else {"position": event.position, "subject": event.subject, "body": json.loads(event.body())}
        )
    assert published == json.loads(PUBLISHED.read_text())
