"""The frames users and specialists send: strict types, text only, bounded, an error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from chat.entrypoints.frames import (
    Available,
    CreateRequest,
    FrameLimits,
    FrameRefused,
    Ping,
    StartChat,
    Take,
    UserMessage,
    parse_agent_frame,
    parse_auth_frame,
    parse_user_frame,
)

pytestmark = pytest.mark.unit

LIMITS = FrameLimits(max_message_chars=50)
START = {"type": "start", "name": "Olena", "phone": "+380441234567", "question": "The lock"}


def refused(parse: Any, frame: dict[str, Any]) -> FrameRefused:
    with pytest.raises(FrameRefused) as caught:
        parse(frame, LIMITS)
    return caught.value


def test_valid_frames_become_their_types() -> None:
    start = parse_user_frame(START, LIMITS)
    assert isinstance(start, StartChat) and start.phone == "+380441234567"
    assert isinstance(parse_user_frame({"type": "message", "text": "a\tb\nc"}, LIMITS), UserMessage)
    assert isinstance(parse_user_frame({"type": "ping"}, LIMITS), Ping)
    request = parse_user_frame({"type": "create_request", "importance": "high"}, LIMITS)
    assert isinstance(request, CreateRequest) and request.topic is None and request.importance == "high"
    available = parse_agent_frame({"type": "available", "capacity": 3, "auto": False}, LIMITS)
    assert isinstance(available, Available) and (available.capacity, available.auto) == (3, False)
    assert isinstance(parse_agent_frame({"type": "take", "session": "abc123"}, LIMITS), Take)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", ["+380441234567"]),
        ("phone", 380441234567),
        ("question", {"text": "help"}),
        ("name", None),
        ("name", True),
    ],
)
def test_a_start_with_a_field_that_is_not_a_string_is_refused_naming_it(field: str, value: Any) -> None:
    error = refused(parse_user_frame, {**START, field: value})
    assert error.code == "bad_frame"
    assert error.field == field
    assert field in str(error)
    assert "380441234567" not in str(error) and "help" not in str(error)  # the input is not quoted


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\u0085", "a\rb", "\ud800"])
def test_text_with_control_characters_is_refused_but_tab_and_newline_are_text(bad: str) -> None:
    assert refused(parse_user_frame, {**START, "question": f"lock{bad}"}).field == "question"
    assert refused(parse_user_frame, {"type": "message", "text": f"hi{bad}"}).field == "text"
    assert refused(parse_agent_frame, {"type": "message", "session": "s1", "text": bad}).field == "text"
    assert parse_user_frame({"type": "message", "text": "line\r\nnext\tcol"}, LIMITS)


def test_sizes_are_bounded_by_the_settings_and_by_hard_limits() -> None:
    assert parse_user_frame({"type": "message", "text": "x" * 50}, LIMITS)
    assert refused(parse_user_frame, {"type": "message", "text": "x" * 51}).field == "text"
    assert "50" in str(refused(parse_user_frame, {"type": "message", "text": "x" * 51}))
    assert refused(parse_user_frame, {**START, "phone": "1" * 65}).field == "phone"
    assert refused(parse_user_frame, {**START, "name": "n" * 1001}).field == "name"
    assert refused(parse_user_frame, {"type": "create_request", "topic": "t" * 65}).field == "topic"
    assert refused(parse_agent_frame, {"type": "take", "session": "s" * 65}).field == "session"


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "message", "text": "   "}, "text"),
        ({"type": "message"}, "text"),
        ({"type": "create_request", "importance": "urgent!"}, "importance"),
        ({"type": "create_request", "topic": ""}, "topic"),
        ({"type": "dance"}, "type"),
        ({"type": "take", "session": "s1"}, "type"),  # a specialist's frame on the user's endpoint
    ],
)
def test_wrong_values_are_refused_naming_the_field(frame: dict[str, Any], field: str) -> None:
    assert refused(parse_user_frame, frame).field == field


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "available", "capacity": "3"}, "capacity"),
        ({"type": "available", "capacity": True}, "capacity"),
        ({"type": "available", "capacity": 3.0}, "capacity"),
        ({"type": "available", "capacity": 0}, "capacity"),
        ({"type": "available", "auto": "yes"}, "auto"),
        ({"type": "take", "session": "../x"}, "session"),
        ({"type": "take", "session": 12}, "session"),
        ({"type": "end"}, "session"),
        ({"type": "start", **{k: v for k, v in START.items() if k != "type"}}, "type"),
    ],
)
def test_a_specialists_wrong_values_are_refused_naming_the_field(frame: dict[str, Any], field: str) -> None:
    assert refused(parse_agent_frame, frame).field == field


def test_missing_intake_fields_are_left_to_the_intake_rules() -> None:
    start = parse_user_frame({"type": "start"}, LIMITS)
    assert isinstance(start, StartChat)
    assert (start.name, start.phone, start.question) == ("", "", "")
    assert "Olena" not in repr(parse_user_frame(START, LIMITS))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "auth"},
        {"type": "auth", "token": ""},
        {"type": "auth", "token": ["a.b.c"]},
        {"type": "auth", "token": 12},
        {"type": "auth", "token": "t" * 8193},
    ],
)
def test_an_auth_frame_without_a_bounded_string_token_is_refused(frame: dict[str, Any]) -> None:
    with pytest.raises(FrameRefused) as caught:
        parse_auth_frame(frame)
    assert caught.value.field in {"token", "type"}


def test_an_auth_frame_keeps_its_token_out_of_its_repr() -> None:
    auth = parse_auth_frame({"type": "auth", "token": "secret.jwt.value"})
    assert auth.token == "secret.jwt.value" and "secret" not in repr(auth)
