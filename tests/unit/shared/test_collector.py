"""The one garbage-collector policy of the services' lifespans (`shared.collector`)."""

from __future__ import annotations

import gc
import weakref

import pytest

from shared.collector import THRESHOLDS, settled_gc

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
