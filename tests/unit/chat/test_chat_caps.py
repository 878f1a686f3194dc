"""The caps on open chats: whose seats a chat takes, how a refusal reads, what a seat records."""

from __future__ import annotations

from typing import Literal

import pytest

from chat.domain.errors import TooManyChats
from chat.domain.model import CapScope, Seat, SessionCaps, seat_owners

pytestmark = pytest.mark.unit


def test_a_chat_takes_one_seat_of_its_user_and_one_of_its_account() -> None:
    user, account = seat_owners(SessionCaps(per_user=2, per_account=5), account_id="hotel-a", user="u1")
    assert (user.scope, user.limit) == (CapScope.USER, 2)
    assert (account.scope, account.limit) == (CapScope.ACCOUNT, 5)
    # Keys name no one and are safe as KV key tokens.
    for owner in (user, account):
        assert "hotel" not in owner.key and "u1" not in owner.key
        assert owner.key.isalnum()
    assert user.key != account.key


def test_the_same_subject_in_two_accounts_is_two_users_and_colleagues_share_the_account() -> None:
    caps = SessionCaps()
    a_user, a_account = seat_owners(caps, account_id="hotel-a", user="frontdesk")
    b_user, b_account = seat_owners(caps, account_id="hotel-b", user="frontdesk")
    colleague, same_account = seat_owners(caps, account_id="hotel-a", user="manager")
    assert a_user.key != b_user.key and a_account.key != b_account.key
    assert colleague.key != a_user.key and same_account.key == a_account.key


@pytest.mark.parametrize(
    ("scope", "limit", "words"),
    [("user", 1, "you already have 1 open chat;"), ("account", 5, "hotel account already has 5 open chats")],
)
def test_a_refusal_names_its_scope_and_limit(
    scope: Literal["user", "account"], limit: int, words: str
) -> None:
    refusal = TooManyChats(scope, limit)
    assert refusal.code == "too_many_chats"
    assert (refusal.scope, refusal.limit) == (scope, limit)
    assert words in str(refusal)


def test_a_seat_round_trips_and_ignores_fields_a_newer_version_adds() -> None:
    seat = Seat(sid="abc", proc="p1")
    assert Seat.decode(seat.encode()) == seat
    assert Seat.decode(b'{"sid":"abc","proc":"p1","later":1}') == seat
