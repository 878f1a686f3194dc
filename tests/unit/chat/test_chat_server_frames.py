"""The frames the chat service sends: their JSON as clients read it, and each endpoint's union."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chat.domain import server_frames as out

pytestmark = pytest.mark.unit

DRAFT = out.Draft(topic="chat", comment="Lock", message="Question: Lock", importance="normal")
TO_USER: list[out.ServerFrame] = [
    out.Ready(name="Olena"),
    out.Pong(),
    out.Error(code="bad_frame", message='"phone": should be a valid string', field="phone"),
    out.Queued(session="s1", position=3, specialists_online=0),
    out.Position(position=2),
    out.NoSpecialist(reason="no_specialist_online", draft=DRAFT),
    out.OutsideHours(
        topic="billing", opens_at="2026-03-30T09:00:00+03:00", first_response_due=None, draft=DRAFT
    ),
    out.Assigned(specialist=out.Specialist(name="Iryna")),
    out.SpecialistSaid(text="Hello"),
    out.SpecialistTyping(),
    out.SpecialistLeft(requeued=True),
    out.RequestOffered(),
    out.Ended(reason="idle_timeout"),
    out.Ended(reason="specialist_ended", draft=DRAFT),
    out.RequestCreated(number="HD-000001"),
]
ROW = out.QueueRow(
    session="s1",
    waiting_since="2026-12-06T10:00:00.000+00:00",
    account_id="a",
    name=None,
    question=None,
    position=1,
)
TO_SPECIALIST: list[out.ServerFrame] = [
    out.Status(status="available", capacity=3, auto=True, sessions=["s1"], teams=[]),
    out.Queue(entries=[ROW]),
    out.ChatAssigned(session="s1", name="Olena", phone="+380441234567", question="Lock", account_id="a"),
    out.UserSaid(session="s1", text="Hi"),
    out.UserTyping(session="s1"),
    out.OfferShown(session="s1"),
    out.RequestFiled(session="s1", number="HD-000001"),
    out.UserLeft(session="s1"),
    out.ChatEnded(session="s1", reason="specialist_ended"),
    out.Error(code="too_many_chats", message="…", scope="user", limit=2),
]


@pytest.mark.parametrize(
    ("union", "frames"),
    [(out.ToUser, TO_USER), (out.ToSpecialist, TO_SPECIALIST)],
    ids=["user", "specialist"],
)
def test_every_frame_an_endpoint_sends_reads_back_as_itself_through_its_union(
    union: Any, frames: list[out.ServerFrame]
) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(union)
    for frame in frames:
        assert adapter.validate_python(frame.wire()) == frame


def test_the_json_is_what_the_widget_and_the_console_read() -> None:
    assert out.SpecialistSaid(text="Hello").wire() == {
        "type": "message",
        "from": "specialist",
        "text": "Hello",
    }
    assert out.SpecialistTyping().wire() == {"type": "typing", "from": "specialist"}
    # Optional parts of an error, and an idle end's draft, are left out; a queue row's unknown name is null.
    assert out.Error(code="not_assigned", message="m").wire() == {
        "type": "error",
        "code": "not_assigned",
        "message": "m",
    }
    assert out.Ended(reason="idle_timeout").wire() == {"type": "ended", "reason": "idle_timeout"}
    assert out.Queue(entries=[ROW]).wire()["entries"][0]["name"] is None


def test_a_frame_cannot_be_built_with_a_field_the_protocol_does_not_have_or_a_wrong_value() -> None:
    with pytest.raises(ValidationError):
        out.Queued(session="s1", position=1, specialists_online=0, phone="+380")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        out.NoSpecialist(reason="bored", draft=DRAFT)  # type: ignore[arg-type]


def test_frames_with_chat_text_keep_it_out_of_their_repr() -> None:
    for frame in (DRAFT, out.SpecialistSaid(text="secret"), out.UserSaid(session="s", text="secret")):
        assert "secret" not in repr(frame) and "Lock" not in repr(frame)
    assert "+380" not in repr(TO_SPECIALIST[2])


@pytest.mark.parametrize("frame", [*TO_USER, *TO_SPECIALIST], ids=lambda f: type(f).__name__)
def test_the_text_sent_is_the_wire_object_as_compact_json(frame: out.ServerFrame) -> None:
    assert frame.wire_text() == json.dumps(frame.wire(), separators=(",", ":"), ensure_ascii=False)


def test_the_text_sent_keeps_non_ascii_as_is_and_escapes_what_json_must() -> None:
    frame = out.SpecialistSaid(text='Добрий день "готель"\n\\ 🙂')
    assert frame.wire_text() == json.dumps(frame.wire(), separators=(",", ":"), ensure_ascii=False)
    assert "Добрий" in frame.wire_text()
    assert json.loads(frame.wire_text())["text"] == 'Добрий день "готель"\n\\ 🙂'
