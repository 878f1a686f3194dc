"""A request's first-response promise on the aggregate: a breach recorded once, only when due, never
after support answered or once the request is closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from tickets.domain.ticket import Ticket
from tickets.domain.values import Actor, ActorKind, Importance, Status

USER = Actor(kind=ActorKind.USER, id="u1", name="User")
AGENT = Actor(kind=ActorKind.AGENT, id="a1", name="Agent")
DUE = datetime(2026, 3, 30, 6, 30, tzinfo=UTC)


def ticket(due: datetime | None = DUE) -> Ticket:
    return Ticket.open(
        ticket_id=uuid4(),
        account_id="hotel-a",
        number="HD-000001",
        actor=USER,
        topic="services",
        importance=Importance.CRITICAL,
        comment="BSO",
        message="BSO forms",
        message_id=uuid4(),
        first_response_due=due,
    )


def test_a_passed_promise_is_recorded_once() -> None:
    t = ticket()
    assert not t.mark_first_response_overdue(now=DUE - timedelta(minutes=1))
    assert t.mark_first_response_overdue(now=DUE)
    assert not t.mark_first_response_overdue(now=DUE + timedelta(hours=1))
    assert [type(e).__name__ for e in t.collect_events()] == ["Created", "FirstResponseOverdue"]


def test_an_answered_or_closed_request_or_one_without_a_promise_is_never_late() -> None:
    answered = ticket()
    answered.reply(actor=AGENT, text="On it.", message_id=uuid4(), has_file=False)
    assert not answered.mark_first_response_overdue(now=DUE + timedelta(days=1))
    closed = ticket()
    closed.change_status(actor=AGENT, status=Status.CLOSED)
    assert not closed.mark_first_response_overdue(now=DUE + timedelta(days=1))
    assert not ticket(None).mark_first_response_overdue(now=DUE + timedelta(days=1))


def test_a_users_own_reply_keeps_the_promise_open() -> None:
    t = ticket()
    t.reply(actor=USER, text="More details", message_id=uuid4(), has_file=False)
    assert t.mark_first_response_overdue(now=DUE)
