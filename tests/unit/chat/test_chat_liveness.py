"""When an entry of a chat process counts as gone, by the heartbeats the mirror has seen."""

from __future__ import annotations

from chat.adapters.liveness import Liveness, new_proc_id


def test_an_entry_is_gone_once_its_process_has_no_heartbeat_and_the_whole_bucket_is_known() -> None:
    live = Liveness()
    proc = new_proc_id()
    assert not live.gone(proc, 5)  # still loading: its heartbeat may come later in the bucket
    live.loaded = True
    assert live.gone(proc, 5)
    live.heard(proc, 6, alive=True)
    assert not live.gone(proc, 5)


def test_a_process_of_an_earlier_version_is_never_judged_by_heartbeats() -> None:
    live = Liveness()
    live.loaded = True
    assert not live.gone("0123456789ab", 5)  # its entries expire with the bucket's TTL instead


def test_after_an_expiry_only_entries_written_after_the_heartbeat_came_back_count() -> None:
    live = Liveness()
    live.loaded = True
    proc = new_proc_id()
    assert not live.heard(proc, 1, alive=True)
    assert live.heard(proc, 10, alive=False)  # news: the mirror drops its entries
    assert not live.heard(proc, 10, alive=False)  # the same expiry again: not news
    assert live.gone(proc, 5) and live.gone(proc, 11)  # no heartbeat now: even a later write
    live.heard(proc, 12, alive=True)  # back after a pause
    assert live.gone(proc, 5)  # what it wrote before the expiry stays gone
    assert not live.gone(proc, 13)
    assert list(live.procs) == [proc]


def test_an_expiry_older_than_a_known_heartbeat_still_buries_what_came_before_it() -> None:
    live = Liveness()
    proc = new_proc_id()
    live.heard(proc, 12, alive=True)
    assert live.heard(proc, 10, alive=False)  # older than the heartbeat known
    assert proc in live.procs
    assert live.gone(proc, 9) and not live.gone(proc, 13)


def test_after_this_process_rebuilt_a_lost_bucket_a_missing_heartbeat_is_not_yet_a_gone_process() -> None:
    live = Liveness()
    proc = new_proc_id()
    live.reset(lenient_for=3600.0)
    live.loaded = True
    assert not live.gone(proc, 3)
    assert not live.leniency_ended()
    live.reset(lenient_for=0.0)
    assert not live.leniency_ended()  # the bucket is not known yet
    live.loaded = True
    assert live.gone(proc, 3)
    assert live.leniency_ended()  # the mirror judges what came in meanwhile, once
    assert not live.leniency_ended()
    assert live.gone(proc, 3)


def test_a_mirror_that_never_rebuilt_a_bucket_has_no_leniency_to_end() -> None:
    live = Liveness()
    live.loaded = True
    assert not live.leniency_ended()


def test_a_heartbeat_older_than_what_is_known_of_its_process_changes_nothing() -> None:
    live = Liveness()
    live.loaded = True
    proc = new_proc_id()
    live.heard(proc, 5, alive=True)
    assert live.heard(proc, 10, alive=False)
    assert not live.heard(proc, 8, alive=True)  # a late echo of a write before the expiry
    assert proc not in live.procs and live.gone(proc, 9)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_expiries_older_than_the_bound_are_forgotten_and_no_gone_process_comes_back_for_it() -> None:
    clock = Clock()
    live = Liveness(clock=clock)
    live.remember_for = 90.0
    live.loaded = True
    procs = [new_proc_id() for _ in range(1000)]
    for n, proc in enumerate(procs):  # a process restarted every second: each time a new id
        clock.now = float(n)
        live.heard(proc, 2 * n + 1, alive=True)
        assert live.heard(proc, 2 * n + 2, alive=False)
    assert len(live._expired) <= 91  # those of the last 90 s, not one per process id ever seen
    assert all(live.gone(proc, 2 * n + 1) for n, proc in enumerate(procs))  # no heartbeat: still gone
    last = procs[-1]
    live.heard(last, 5000, alive=True)  # back after a pause, within the bound
    assert live.gone(last, 1999) and not live.gone(last, 5001)
