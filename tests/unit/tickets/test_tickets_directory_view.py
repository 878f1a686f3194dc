"""The directory view that every create reads: served from memory while fresh, looked up again after."""

from __future__ import annotations

from typing import cast

from tickets.application.directory import DirectoryApplication, DirectoryService


class CountingStore:
    """Stands in for the directory's event store: never written, counts the version look-ups."""

    def __init__(self) -> None:
        self.lookups = 0

    def stored_version(self) -> int:
        self.lookups += 1
        return 0

    def get_directory(self) -> None:
        return None


async def test_a_fresh_view_is_served_without_asking_the_store_and_a_stale_one_asks_once() -> None:
    store = CountingStore()
    now = [100.0]
    service = DirectoryService(
        cast(DirectoryApplication, store), refresh_seconds=1.0, monotonic=lambda: now[0]
    )
    first = await service.current()
    assert store.lookups == 1
    now[0] += 0.5
    assert await service.current() is first
    assert store.lookups == 1  # within refresh_seconds: the view in memory
    now[0] += 0.6
    assert await service.current() is first  # the stored version has not moved: the same view
    assert store.lookups == 2
    assert await service.current() is first
    assert store.lookups == 2
