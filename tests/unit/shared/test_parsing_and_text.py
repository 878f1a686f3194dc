"""The shared input rules: numbers from headers and cursors, text without control characters, and who
may read which account's data."""

from __future__ import annotations

import base64
from typing import Annotated
from uuid import uuid4

import pytest
from pydantic import BaseModel, Field, ValidationError

from shared.auth import AccountScope, Principal, Role, account_scope
from shared.errors import Forbidden, Unprocessable
from shared.listing import decode_cursor, encode_cursor, read_cursor
from shared.parsing import event_id, expected_version, natural, number_in, preferred_language
from shared.types import Text, TextOnly


@pytest.mark.parametrize(
    "text", ["²", "٣", "1²", "-1", "+1", " 1", "1_000", "1e3", "", "0x10", str(2**63), "1" * 20, "1\n"]
)
def test_only_ascii_digits_within_a_signed_64_bit_value_are_a_number(text: str) -> None:
    assert natural(text) is None


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("007", 7), (str(2**63 - 1), 2**63 - 1)])
def test_ascii_digits_are_read_as_the_number_they_write(text: str, value: int) -> None:
    assert natural(text) == value


@pytest.mark.parametrize(
    ("header", "version"), [('"5"', 5), ("5", 5), ('W/"5"', 5), (' "12" ', 12), ("*", None)]
)
def test_if_match_names_a_version_or_any_version(header: str, version: int | None) -> None:
    assert expected_version(header) == version


@pytest.mark.parametrize("header", ["²", '"²"', "abc", '""', '"1", "2"', "W/", '"-1"', "1" * 20])
def test_an_if_match_that_is_not_a_version_is_a_422_on_the_header(header: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        expected_version(header)
    assert caught.value.details[0].loc == ["header", "If-Match"]


def test_a_last_event_id_is_a_position_none_when_blank_and_a_422_otherwise() -> None:
    loc: list[str | int] = ["header", "Last-Event-ID"]
    assert event_id(" 42 ", loc=loc) == 42
    assert event_id(None, loc=loc) is None and event_id("  ", loc=loc) is None
    for bad in ("²", "x", "1.5"):
        with pytest.raises(Unprocessable) as caught:
            event_id(bad, loc=loc)
        assert caught.value.details[0].loc == loc
    with pytest.raises(Unprocessable):
        number_in("٣", loc=["query", "n"])


def _raw_cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_a_cursor_carries_the_rows_shown_and_old_cursors_still_read() -> None:
    item = str(uuid4())
    cursor = read_cursor(encode_cursor(123, item, shown=50))
    assert (cursor.at_us, cursor.item_id, cursor.shown) == (123, item, 50)
    assert read_cursor(_raw_cursor(f"123:{item}")).shown == 0
    assert decode_cursor(encode_cursor(7, item)) == (7, item)


@pytest.mark.parametrize("time", [str(2**63), "9" * 40, "²", "-5", "1e3"])
def test_a_cursor_time_beyond_a_64_bit_column_or_not_digits_is_a_422(time: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        decode_cursor(_raw_cursor(f"{time}:{uuid4()}"))
    assert caught.value.details[0].loc == ["query", "cursor"]


class Form(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=10), TextOnly]
    body: Text = ""


@pytest.mark.parametrize("bad", ["a\x00b", "\x07", "a\rb", "\x1b[31m", "\x7f", "\x85", "\ud800", "a\x0bb"])
def test_text_with_a_control_character_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Form(title="ok", body=bad)
    error = caught.value.errors()[0]
    assert error["loc"] == ("body",) and error["type"] == "control_character"


def test_tabs_newlines_and_crlf_are_text_and_lengths_are_checked_as_a_strings() -> None:
    assert Form(title="a\tb", body="line\nline\r\nend ✓").body == "line\nline\r\nend ✓"
    with pytest.raises(ValidationError) as caught:
        Form(title="x" * 11)
    assert caught.value.errors()[0]["type"] == "string_too_long"


def test_a_control_character_in_a_token_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        Principal(sub="u", role=Role.USER, account_id="h1", name="Front\x00desk")


def test_support_reads_every_account_a_user_their_own_an_editor_none() -> None:
    agent = Principal(sub="a", role=Role.AGENT)
    user = Principal(sub="u", role=Role.USER, account_id="h1")
    assert account_scope(agent) == AccountScope(every_account=True)
    assert account_scope(agent, requested="h2") == AccountScope(account_id="h2")
    assert account_scope(user) == AccountScope(account_id="h1")
    assert account_scope(user, requested="h1") == AccountScope(account_id="h1")
    assert user.can_see_account("h1") and not user.can_see_account("h2")
    with pytest.raises(Forbidden):
        account_scope(user, requested="h2")
    for editor in (
        Principal(sub="e", role=Role.EDITOR),
        Principal(sub="e", role=Role.EDITOR, account_id="h1"),
    ):
        with pytest.raises(Forbidden):
            account_scope(editor)
        assert not editor.can_see_account("h1")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("uk-UA,uk;q=0.9,en;q=0.8", "uk"),
        ("de-DE, pl;q=0.5, en;q=0.4", "pl"),
        ("ua", "uk"),
        ("ru;q=0, en", "en"),
        ("fr, ru;q=0.1", "ru"),
        ("en;q=abc, pl", "pl"),
        ("*", "en"),
    ],
)
def test_the_accept_language_header_picks_the_first_supported_language_by_weight(
    header: str | None, language: str
) -> None:
    assert preferred_language(header, ("uk", "ru", "en", "pl"), "en") == language
