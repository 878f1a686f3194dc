"""Where support's live stream starts for a fresh reader and for one resuming with Last-Event-ID."""

from __future__ import annotations

import pytest

from tickets.adapters.live import Start, start_of

pytestmark = pytest.mark.unit


def test_a_fresh_reader_starts_at_the_next_message() -> None:
    assert start_of(None, first_seq=1, last_seq=40, replay_max=10) == Start(41)
    assert start_of(None, first_seq=0, last_seq=0, replay_max=10) == Start(1)


def test_a_reader_resumes_right_after_its_last_event_within_the_bound() -> None:
    assert start_of(35, first_seq=1, last_seq=40, replay_max=10) == Start(36)
    assert start_of(40, first_seq=1, last_seq=40, replay_max=10) == Start(41)
    assert start_of(30, first_seq=1, last_seq=40, replay_max=10) == Start(31)


@pytest.mark.parametrize(
    ("resume_after", "first_seq"),
    [(29, 1), (41, 1), (500, 1), (31, 35)],
    ids=["too far back", "ahead of the stream", "from a stream since reset", "aged out"],
)
def test_a_resume_point_that_cannot_be_replayed_starts_at_the_next_message_with_a_reset(
    resume_after: int, first_seq: int
) -> None:
    assert start_of(resume_after, first_seq=first_seq, last_seq=40, replay_max=10) == Start(41, reset=True)
