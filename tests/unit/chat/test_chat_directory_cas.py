"""A compare-and-set write that loses a race answers None, whichever way the server says so."""

from __future__ import annotations

from typing import cast

import pytest
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from chat.adapters.directory import Directory
from chat.domain.model import QueueEntry


class RacedBucket:
    """A bucket whose key changes between the write's checks (as another process's write would)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def create(self, key: str, value: bytes) -> int:
        raise self.error

    async def update(self, key: str, value: bytes, last: int) -> int:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [KeyWrongLastSequenceError(), KeyNotFoundError()],
    ids=["revision moved", "delete marker expired while creating"],
)
@pytest.mark.parametrize("revision", [0, 7], ids=["create", "update"])
async def test_a_lost_race_is_none_and_leaves_the_mirror_alone(error: Exception, revision: int) -> None:
    directory = Directory(cast(KeyValue, RacedBucket(error)))
    entry = QueueEntry(sid="s1", account_id="a", since=1.0, proc="p")
    assert await directory.put_queue(entry, revision=revision) is None
    assert "s1" not in directory.queue
