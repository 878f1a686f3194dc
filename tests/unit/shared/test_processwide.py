"""A process-wide setting changed by several holders that end in any order comes back as it was."""

from __future__ import annotations

import gc
import sys

import pytest

from shared.collector import THRESHOLDS, settled_gc
from shared.processwide import ProcessWide, Undo

pytestmark = pytest.mark.unit


def test_the_first_holder_applies_it_and_the_last_undoes_it_whatever_the_order() -> None:
    value = ["default"]

    def apply() -> Undo:
        before = value[0]
        value[0] = "changed"
        return lambda: value.__setitem__(0, before)

    setting = ProcessWide(apply)
    setting.acquire()  # A
    setting.acquire()  # B, while A runs
    setting.release()  # A ends first
    assert value == ["changed"] and setting.holders == 1
    setting.release()  # B ends
    assert value == ["default"] and setting.holders == 0
    setting.release()  # one release too many holds nothing and undoes nothing twice
    assert value == ["default"] and setting.holders == 0


def test_two_apps_whose_lifespans_overlap_leave_the_collector_as_it_was() -> None:
    before = gc.get_threshold()
    first, second = settled_gc(), settled_gc()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold() == THRESHOLDS
    first.__exit__(None, None, None)  # the first app ends while the second runs
    assert gc.get_threshold() == THRESHOLDS
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_worker_threads_that_overlap_leave_the_switch_interval_as_it_was() -> None:
    from tickets.entrypoints.worker_thread import SWITCH_INTERVAL, SWITCHING_SOONER

    before = sys.getswitchinterval()
    SWITCHING_SOONER.acquire()
    SWITCHING_SOONER.acquire()
    SWITCHING_SOONER.release()
    assert sys.getswitchinterval() == pytest.approx(min(SWITCH_INTERVAL, before))
    SWITCHING_SOONER.release()
    assert sys.getswitchinterval() == pytest.approx(before)
