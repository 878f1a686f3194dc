"""The popup aggregate's rules, with the time passed in: the lifecycle's table of transitions, and a
popup and one user's own state of a popup sent to their whole account both living by it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from notifications.domain.errors import IdempotencyKeyReused, IllegalTransition, InvalidSnooze
from notifications.domain.ids import popup_id_for_message, popup_id_for_ticket_event, public_event_id
from notifications.domain.lifecycle import Action, Lifecycle, next_status
from notifications.domain.model import Cause, Popup
from notifications.domain.recipient import RecipientState
from shared.contracts.popups import PopupStatus
from shared.contracts.popups import PopupStatus as S
from shared.idempotency import fingerprint

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LONGEST = timedelta(days=30)
USER = Cause(actor_kind="user", actor_id="u1", actor_name="", correlation_id=None, causation_id=None)


def popup(*, user_id: str | None = "u1") -> Popup:
    return Popup(
        popup_id=uuid4(),
        account_id="hotel-a",
        user_id=user_id,
        kind="message",
        title="t",
        text="x",
        ticket_id=None,
        ticket_number=None,
        source_event_id=None,
        at=T0,
        cause=USER,
        fingerprint=None,
    )


def test_a_new_popup_is_raised_and_active() -> None:
    p = popup()
    assert p.status is PopupStatus.RAISED
    assert p.is_active(T0)


def test_delivery_is_recorded_once_however_many_tabs_report_it() -> None:
    p = popup()
    p.mark_delivered(at=T0, cause=USER)
    p.mark_delivered(at=T0, cause=USER)
    assert p.status is PopupStatus.DELIVERED
    assert p.version == 2


def test_a_snoozed_popup_is_hidden_until_its_time_then_due_without_anyone_acting() -> None:
    p = popup()
    p.snooze(until=T0 + timedelta(hours=1), at=T0, longest=LONGEST, cause=USER)
    assert not p.is_active(T0 + timedelta(minutes=59))
    assert p.status_at(T0 + timedelta(hours=1)) is PopupStatus.DUE
    assert p.is_active(T0 + timedelta(hours=1))


def test_ending_a_snooze_is_recorded_only_when_its_time_has_come_and_only_once() -> None:
    p = popup()
    p.snooze(until=T0 + timedelta(hours=1), at=T0, longest=LONGEST, cause=USER)
    assert not p.end_snooze_if_due(at=T0 + timedelta(minutes=30), cause=USER)
    assert p.end_snooze_if_due(at=T0 + timedelta(hours=2), cause=USER)
    assert not p.end_snooze_if_due(at=T0 + timedelta(hours=3), cause=USER)
    assert p.status is PopupStatus.DUE


def test_a_due_popup_reported_as_shown_records_due_again_then_delivered() -> None:
    p = popup()
    p.snooze(until=T0 + timedelta(minutes=5), at=T0, longest=LONGEST, cause=USER)
    p.mark_delivered(at=T0 + timedelta(minutes=6), cause=USER)
    events = [type(e).__name__ for e in p.collect_events()]
    assert events == ["Raised", "Snoozed", "DueAgain", "Delivered"]


def test_a_snooze_must_end_in_the_future_and_within_the_longest_allowed() -> None:
    p = popup()
    with pytest.raises(InvalidSnooze):
        p.snooze(until=T0, at=T0, longest=LONGEST, cause=USER)
    with pytest.raises(InvalidSnooze, match=r"^a popup can be snoozed for at most 30 days$"):
        p.snooze(until=T0 + LONGEST + timedelta(seconds=1), at=T0, longest=LONGEST, cause=USER)


def test_a_hidden_snoozed_popup_cannot_be_reported_as_shown() -> None:
    p = popup()
    p.snooze(until=T0 + timedelta(hours=1), at=T0, longest=LONGEST, cause=USER)
    with pytest.raises(IllegalTransition):
        p.mark_delivered(at=T0, cause=USER)


def test_opening_is_recorded_once_and_an_opened_popup_can_only_be_deleted() -> None:
    p = popup()
    p.open(at=T0, cause=USER)
    p.open(at=T0, cause=USER)
    assert p.version == 2
    with pytest.raises(IllegalTransition):
        p.snooze(until=T0 + timedelta(hours=1), at=T0, longest=LONGEST, cause=USER)
    with pytest.raises(IllegalTransition):
        p.mark_delivered(at=T0, cause=USER)
    p.delete(at=T0, cause=USER)
    assert p.status is PopupStatus.DELETED


@pytest.mark.parametrize("action", ["snooze", "open", "deliver", "delete"])
def test_deleted_is_final(action: str) -> None:
    p = popup()
    p.delete(at=T0, cause=USER)
    later = T0 + timedelta(days=365)
    attempts: dict[str, Callable[[], None]] = {
        "snooze": lambda: p.snooze(until=later + timedelta(hours=1), at=later, longest=LONGEST, cause=USER),
        "open": lambda: p.open(at=later, cause=USER),
        "deliver": lambda: p.mark_delivered(at=later, cause=USER),
        "delete": lambda: p.delete(at=later, cause=USER),
    }
    with pytest.raises(IllegalTransition):
        attempts[action]()
    assert not p.is_active(later)


def test_nothing_expires_by_itself() -> None:
    p = popup()
    assert p.is_active(T0 + timedelta(days=3650))


def test_a_popup_is_addressed_to_its_user_or_to_every_user_of_its_account_only() -> None:
    mine, desk = popup(user_id="u1"), popup(user_id=None)
    assert mine.is_addressed_to(account_id="hotel-a", user_id="u1")
    assert not mine.is_addressed_to(account_id="hotel-a", user_id="u2")
    assert not mine.is_addressed_to(account_id="hotel-b", user_id="u1")
    assert desk.is_addressed_to(account_id="hotel-a", user_id="u2")
    assert not desk.is_addressed_to(account_id="hotel-b", user_id="u2")
    assert not desk.is_addressed_to(account_id=None, user_id="u2")


def test_ids_are_deterministic_per_source_and_distinct_across_sources() -> None:
    event = uuid4()
    assert popup_id_for_ticket_event(event) == popup_id_for_ticket_event(event)
    assert popup_id_for_ticket_event(event) != popup_id_for_ticket_event(uuid4())
    assert popup_id_for_message(sender="a", idempotency_key="k") != popup_id_for_message(
        sender="b", idempotency_key="k"
    )
    assert public_event_id(event, 1) != public_event_id(event, 2)


def test_a_popup_raised_for_a_request_refuses_a_repeat_that_asked_for_something_else() -> None:
    p = Popup(
        popup_id=uuid4(),
        account_id="hotel-a",
        user_id=None,
        kind="message",
        title="t",
        text="x",
        ticket_id=None,
        ticket_number=None,
        source_event_id=None,
        at=T0,
        cause=USER,
        fingerprint=fingerprint("hotel-a", "x"),
    )
    p.check_same_request(fingerprint("hotel-a", "x"))
    with pytest.raises(IdempotencyKeyReused):
        p.check_same_request(fingerprint("hotel-b", "x"))
    popup().check_same_request(fingerprint("anything"))  # raised before requests were fingerprinted


# action → {status it starts from: status it leaves (None: nothing new is recorded)}; any status
# missing from a row is an illegal transition.
EXPECTED: dict[Action, dict[S, S | None]] = {
    Action.DELIVER: {S.RAISED: S.DELIVERED, S.DUE: S.DELIVERED, S.DELIVERED: None},
    Action.SNOOZE: {s: S.SNOOZED for s in (S.RAISED, S.DELIVERED, S.SNOOZED, S.DUE)},
    Action.OPEN: {**{s: S.OPENED for s in (S.RAISED, S.DELIVERED, S.SNOOZED, S.DUE)}, S.OPENED: None},
    Action.DELETE: {s: S.DELETED for s in (S.RAISED, S.DELIVERED, S.SNOOZED, S.DUE, S.OPENED)},
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(S))
def test_each_action_goes_where_the_table_says_or_is_an_illegal_transition(action: Action, status: S) -> None:
    if status in EXPECTED[action]:
        assert next_status(action, status) is EXPECTED[action][status]
    else:
        with pytest.raises(IllegalTransition, match=f"cannot {action.value} a popup that is {status.value}"):
            next_status(action, status)


def a_users_own_state() -> Lifecycle:
    return RecipientState.start(popup(user_id=None), user_id="u1", at=T0, cause=USER)


@pytest.mark.parametrize("make", [popup, a_users_own_state], ids=["popup", "own state"])
def test_a_popup_and_a_users_own_state_live_by_the_same_lifecycle(make: Callable[[], Lifecycle]) -> None:
    subject = make()
    subject.mark_delivered(at=T0, cause=USER)
    subject.snooze(until=T0 + timedelta(hours=1), at=T0, longest=LONGEST, cause=USER)
    assert (subject.status, subject.snoozed_until) == (S.SNOOZED, T0 + timedelta(hours=1))
    # Delivered again once due: "due again" is recorded first, by the same call.
    subject.mark_delivered(at=T0 + timedelta(hours=2), cause=USER)
    assert (subject.status, subject.snoozed_until) == (S.DELIVERED, None)
    subject.open(at=T0, cause=USER)
    subject.delete(at=T0, cause=USER)
    recorded = subject.collect_events()[1:]
    names = [type(e).__name__ for e in recorded]
    assert names == ["Delivered", "Snoozed", "DueAgain", "Delivered", "Opened", "Deleted"]
    # Each aggregate records the lifecycle's changes as events of its own (stored under its own name).
    assert {type(e) for e in recorded if isinstance(e, Lifecycle.Delivered)} == {type(subject).Delivered}
