"""The public envelope rejects what it does not know; logs are JSON lines with the bound ids."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from shared.auth import Role, TokenVerifier, issue_dev_token
from shared.contracts.envelope import Actor, ActorKind, EventEnvelope, UnknownEventType
from shared.contracts.subjects import dead_letter_subject, event_subject
from shared.contracts.tickets import TicketReplied, parse_ticket_event
from shared.logging import bind_context, clear_contextvars, configure_logging, get_logger
from shared.settings import CommonSettings, Environment

pytestmark = pytest.mark.unit


def envelope(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = EventEnvelope[TicketReplied](
        event_id=uuid.uuid4(),
        type="ticket.replied",
        schema_version=1,
        occurred_at=datetime.now(UTC),
        account_id="hotel-a",
        aggregate_id=uuid.uuid4(),
        aggregate_version=3,
        ticket_number="HD-000007",
        actor=Actor(kind=ActorKind.AGENT, id="agent-1", name="Olena"),
        correlation_id="c-1",
        causation_id="c-0",
        data=TicketReplied(message_id=uuid.uuid4(), author_role="agent", text="Перевірте, будь ласка"),
    ).model_dump(mode="json")
    body.update(overrides)
    return body


def test_a_published_ticket_event_round_trips_with_its_typed_data() -> None:
    raw = json.dumps(envelope())
    parsed = parse_ticket_event(raw)
    assert isinstance(parsed.data, TicketReplied)
    assert parsed.data.text == "Перевірте, будь ласка"
    assert parsed.actor.kind is ActorKind.AGENT


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        parse_ticket_event(json.dumps(envelope(type="ticket.teleported")))


@pytest.mark.parametrize(
    "overrides",
    [
        {"account_id": ""},
        {"aggregate_version": 0},
        {"unexpected": "field"},
        {"type": "Not A Type"},
        {"data": {"message_id": "not-a-uuid", "author_role": "agent", "text": "x"}},
        {"data": {"message_id": str(uuid.uuid4()), "author_role": "robot", "text": "x"}},
    ],
)
def test_a_malformed_envelope_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_ticket_event(json.dumps(envelope(**overrides)))


def test_subjects_carry_the_domain_version_and_event_name() -> None:
    assert event_subject("tickets", "ticket.replied", 1) == "helpdesk.tickets.v1.replied"
    assert event_subject("tickets", "ticket.replied", 2) == "helpdesk.tickets.v2.replied"
    assert dead_letter_subject("notifications") == "helpdesk.dlq.notifications"


def test_log_lines_are_json_with_bound_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True, service="tickets")
    try:
        clear_contextvars()
        bind_context(request_id="r-1", account_id="hotel-a", ignored=None)
        get_logger("t").info("ticket_created", ticket_number="HD-000001")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["event"] == "ticket_created"
        assert record["request_id"] == "r-1"
        assert record["account_id"] == "hotel-a"
        assert record["service"] == "tickets"
        assert "ignored" not in record
    finally:
        clear_contextvars()
        structlog.reset_defaults()


def test_a_development_token_verifies_and_carries_its_claims() -> None:
    settings = CommonSettings(environment=Environment.TEST, jwt_secret="s" * 40)  # type: ignore[arg-type]
    token = issue_dev_token(settings, role=Role.USER, sub="u9", account_id="hotel-z", name="Reception")
    principal = TokenVerifier(settings).verify(token)
    assert (principal.sub, principal.role, principal.account_id, principal.name) == (
        "u9",
        Role.USER,
        "hotel-z",
        "Reception",
    )
    assert principal.can_see_account("hotel-z")
    assert not principal.can_see_account("hotel-y")
