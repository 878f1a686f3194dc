"""The one garbage-collector policy of the services' lifespans (`shared.collector`)."""

from __future__ import annotations

import gc
import weakref

import pytest

from shared import collector
from shared.collector import THRESHOLDS, _malloc_trim, freeze_long_lived, settled_gc

pytestmark = pytest.mark.unit


def test_while_an_app_runs_start_up_is_frozen_and_collections_are_rarer_and_both_are_undone_after() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    kept = [[index] for index in range(1000)]  # long-lived, tracked objects made before the app serves
    with settled_gc():
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_garbage_made_before_the_app_serves_is_collected_not_frozen() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic collector frees it

    node = Node()
    gone = weakref.ref(node)
    del node
    with settled_gc():
        assert gone() is None


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim (not glibc)")
def test_freezing_hands_the_heaps_free_pages_back_to_the_system() -> None:
    """Heap blocks freed between blocks still in use stay resident until the heap is trimmed."""
    page = bytes(range(256)) * 256  # 64 KiB: below glibc's mmap threshold, so from the heap
    blocks = [bytearray(page) for _ in range(1600)]  # ~100 MiB, every page written
    kept = blocks[::40]  # what stays in use, spread over the heap: nothing to trim at its top
    del blocks
    freed = rss_mib()
    freeze_long_lived()
    gc.unfreeze()
    assert freed - rss_mib() > 60, (freed, rss_mib())
    assert len(kept) == 40


def test_an_app_start_trims_the_heap_only_the_first_time_and_an_explicit_freeze_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test process starts hundreds of apps: trimming a large heap at each costs up to ~0.2 s."""
    trims: list[int] = []

    def trim(pad: int) -> int:
        trims.append(pad)
        return 1

    monkeypatch.setattr(collector, "_malloc_trim", lambda: trim)
    collector._release_free_heap_once.cache_clear()  # as in a process no app has started in yet
    with settled_gc():
        with settled_gc():
            pass
    with settled_gc():
        pass
    assert trims == [0]
    freeze_long_lived()
    freeze_long_lived()
    gc.unfreeze()
    assert trims == [0, 0, 0]
