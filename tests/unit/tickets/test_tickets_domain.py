"""The `Ticket` aggregate's rules, without any store."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from tickets.domain.errors import (
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    OneFilePerMessage,
    TicketClosed,
    VersionMismatch,
)
from tickets.domain.numbers import BLOCK_SIZE, NumberBlock, block_id
from tickets.domain.ticket import Ticket, idempotent_ticket_id
from tickets.domain.values import (
    Actor,
    ActorKind,
    AttachmentRef,
    Importance,
    Priority,
    Status,
    can_transition,
    format_number,
)

pytestmark = pytest.mark.unit

USER = Actor(kind=ActorKind.USER, id="u1", name="Olena")
AGENT = Actor(kind=ActorKind.AGENT, id="a1", name="Support")


def new_ticket(**overrides: object) -> Ticket:
    fields: dict[str, object] = {
        "ticket_id": uuid4(),
        "account_id": "hotel-a",
        "number": "HD-000001",
        "actor": USER,
        "topic": "Reports",
        "importance": Importance.HIGH,
        "comment": "  Report broken ",
        "message": "The night audit shows no totals.",
        "message_id": uuid4(),
    }
    fields.update(overrides)
    return Ticket.open(**fields)  # type: ignore[arg-type]


def attachment(message_id: UUID | None, name: str = "shot.png") -> AttachmentRef:
    return AttachmentRef(
        attachment_id=str(uuid4()),
        message_id=str(message_id) if message_id else None,
        object_name="obj",
        filename=name,
        content_type="image/png",
        size=10,
        sha256="0" * 64,
    )


def test_a_new_ticket_is_new_with_the_users_importance_and_no_priority() -> None:
    ticket = new_ticket()
    assert ticket.status is Status.NEW
    assert ticket.importance is Importance.HIGH
    assert ticket.priority is None
    assert ticket.comment == "Report broken"
    assert ticket.version == 1


def test_every_event_carries_the_account_number_and_actor() -> None:
    ticket = new_ticket()
    ticket.reply(actor=AGENT, text="On it", message_id=uuid4(), has_file=False)
    ticket.change_status(actor=AGENT, status=Status.IN_PROGRESS)
    for event in ticket.collect_events():
        assert event.account_id == "hotel-a"  # type: ignore[attr-defined]
        assert event.number == "HD-000001"  # type: ignore[attr-defined]
        assert isinstance(event.actor, Actor)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("field", "value"), [("comment", " "), ("message", ""), ("comment", "x" * 201)])
def test_empty_or_too_long_texts_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        new_ticket(**{field: value})
    assert caught.value.field == field


def test_the_documented_lifecycle_is_allowed_and_closed_is_final() -> None:
    ticket = new_ticket()
    for status in (Status.IN_PROGRESS, Status.WAITING_FOR_USER, Status.RESOLVED, Status.CLOSED):
        ticket.change_status(actor=AGENT, status=status)
    assert ticket.status is Status.CLOSED
    for status in Status:
        assert not can_transition(Status.CLOSED, status)
        with pytest.raises(IllegalTransition):
            ticket.change_status(actor=AGENT, status=status)


def test_changing_to_the_current_status_is_an_illegal_transition() -> None:
    ticket = new_ticket()
    ticket.change_status(actor=AGENT, status=Status.IN_PROGRESS)
    with pytest.raises(IllegalTransition):
        ticket.change_status(actor=AGENT, status=Status.IN_PROGRESS)


@pytest.mark.parametrize("status", [Status.WAITING_FOR_USER, Status.RESOLVED])
def test_a_user_reply_to_a_waiting_or_resolved_request_moves_it_back_in_progress(status: Status) -> None:
    ticket = new_ticket()
    ticket.change_status(actor=AGENT, status=status)
    ticket.reply(actor=USER, text="Still broken", message_id=uuid4(), has_file=False)
    assert ticket.status is Status.IN_PROGRESS
    names = [type(e).__name__ for e in ticket.collect_events()]
    assert names[-2:] == ["Replied", "StatusChanged"]


def test_an_agent_reply_does_not_move_a_waiting_request() -> None:
    ticket = new_ticket()
    ticket.change_status(actor=AGENT, status=Status.WAITING_FOR_USER)
    ticket.reply(actor=AGENT, text="Any news?", message_id=uuid4(), has_file=False)
    assert ticket.status is Status.WAITING_FOR_USER


def test_nothing_changes_on_a_closed_request_but_internal_notes() -> None:
    ticket = new_ticket()
    ticket.change_status(actor=AGENT, status=Status.CLOSED)
    with pytest.raises(TicketClosed):
        ticket.reply(actor=USER, text="Hello?", message_id=uuid4(), has_file=False)
    with pytest.raises(TicketClosed):
        ticket.change_topic(actor=AGENT, topic="Other")
    with pytest.raises(TicketClosed):
        ticket.assign(actor=AGENT, assignee_id="a1")
    ticket.add_internal_note(actor=AGENT, text="Closed after a call", note_id=uuid4())
    assert ticket.note_count == 1


def test_only_support_adds_notes_and_changes_status_topic_priority_and_assignee() -> None:
    ticket = new_ticket()
    with pytest.raises(NotAllowed):
        ticket.add_internal_note(actor=USER, text="x", note_id=uuid4())
    with pytest.raises(NotAllowed):
        ticket.change_status(actor=USER, status=Status.CLOSED)
    with pytest.raises(NotAllowed):
        ticket.change_topic(actor=USER, topic="Other")
    with pytest.raises(NotAllowed):
        ticket.change_priority(actor=USER, priority=Priority.P1)
    with pytest.raises(NotAllowed):
        ticket.assign(actor=USER, assignee_id="u1")
    assert ticket.version == 1


def test_priority_is_separate_from_importance_and_unchanged_values_record_nothing() -> None:
    ticket = new_ticket()
    assert ticket.change_priority(actor=AGENT, priority=Priority.P2) is True
    assert ticket.change_priority(actor=AGENT, priority=Priority.P2) is False
    assert ticket.priority is Priority.P2
    assert ticket.importance is Importance.HIGH
    assert ticket.change_topic(actor=AGENT, topic="Reports") is False
    assert ticket.assign(actor=AGENT, assignee_id="a2", assignee_name="Iryna") is True
    assert (ticket.assignee_id, ticket.assignee_name) == ("a2", "Iryna")
    assert ticket.assign(actor=AGENT, assignee_id=None) is True
    assert ticket.assignee_id is None
    assert ticket.version == 4


def test_a_message_takes_at_most_one_file() -> None:
    message_id = uuid4()
    ticket = new_ticket(message_id=message_id)
    ticket.add_attachment(actor=USER, attachment=attachment(message_id))
    with pytest.raises(OneFilePerMessage):
        ticket.add_attachment(actor=USER, attachment=attachment(message_id, "second.png"))
    assert len(ticket.attachments) == 1


def test_a_file_must_belong_to_a_message_of_this_ticket() -> None:
    ticket = new_ticket()
    with pytest.raises(InvalidInput):
        ticket.add_attachment(actor=USER, attachment=attachment(uuid4()))


def test_a_reply_needs_text_unless_it_brings_a_file() -> None:
    ticket = new_ticket()
    with pytest.raises(InvalidInput):
        ticket.reply(actor=USER, text="  ", message_id=uuid4(), has_file=False)
    ticket.reply(actor=USER, text="", message_id=uuid4(), has_file=True)
    assert len(ticket.message_ids) == 2


def test_a_stale_expected_version_is_a_version_mismatch() -> None:
    ticket = new_ticket()
    ticket.check_version(None)
    ticket.check_version(1)
    with pytest.raises(VersionMismatch):
        ticket.check_version(2)


def test_the_same_idempotency_key_gives_the_same_id_only_for_the_same_account_and_user() -> None:
    one = idempotent_ticket_id(account_id="a", user_id="u", key="k")
    assert one == idempotent_ticket_id(account_id="a", user_id="u", key="k")
    assert one != idempotent_ticket_id(account_id="b", user_id="u", key="k")
    assert one != idempotent_ticket_id(account_id="a", user_id="v", key="k")


def test_numbers_are_human_friendly_and_blocks_do_not_overlap() -> None:
    assert format_number(123) == "HD-000123"
    first, second = NumberBlock(index=0, reserved_by="p"), NumberBlock(index=1, reserved_by="q")
    assert list(first.numbers) == list(range(1, BLOCK_SIZE + 1))
    assert set(first.numbers).isdisjoint(second.numbers)
    assert first.id == block_id(0) != second.id
