"""Which chat processes are alive, as their heartbeat keys in the directory's bucket say.

Each process rewrites one key (`p.<proc>`) every TTL/3; it expires with the bucket's TTL and leaves a
marker, so every mirror learns when a process stops. Entries name their process (`proc`) and are
never rewritten on a timer: an entry is gone when its process's heartbeat expired after the entry
was written, or when its process has no heartbeat at all. A heartbeat that comes back (a paused
process) makes that process's later entries count again, never the earlier ones.

An expiry is remembered for `remember_for` seconds (a few bucket TTLs), then forgotten: every process
that sees it drops the earlier entries from its mirror at once and the first to reclaim deletes them
from the bucket within a round, so after that there is nothing left for it to judge; kept for good,
one would be kept for every process id ever seen (each restart is a new one).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

PROC = "p."
# A process id that starts so keeps its entries alive by its heartbeat; any other (a process of an
# earlier version) rewrites its entries before the bucket's TTL, and the bucket expires them.
BEATING = "hb-"
# How long an expiry is remembered when the bucket's TTL is not known.
REMEMBER_FOR = 300.0


def new_proc_id() -> str:
    """A chat process's id, marked as one that keeps its entries alive by its heartbeat."""
    return BEATING + uuid.uuid4().hex[:12]


def beating(proc: str) -> bool:
    return proc.startswith(BEATING)


class Liveness:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.procs: dict[str, int] = {}  # processes whose heartbeat is live, with its revision
        # Processes whose heartbeat expired, with the expiry's revision and when it was heard, the
        # oldest heard first: their entries older than it are gone, even if the heartbeat comes back.
        self._expired: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.remember_for = REMEMBER_FOR
        self._clock = clock
        self.loaded = False  # the whole bucket is known: a process without a heartbeat is gone
        self._lenient_until = float("-inf")

    def reset(self, *, lenient_for: float = 0.0) -> None:
        """A new bucket: nothing known; for `lenient_for` seconds a missing heartbeat does not mean a
        gone process (after this one rebuilt a lost bucket the others have not written theirs yet)."""
        self.procs.clear()
        self._expired.clear()
        self.loaded = False
        self._lenient_until = self._clock() + lenient_for

    def gone(self, proc: str, revision: int) -> bool:
        """Whether an entry of `proc` at `revision` is gone (as if it had expired)."""
        if not beating(proc):
            return False
        if revision < self._expiry(proc):
            return True  # written before its heartbeat expired
        if proc in self.procs:
            return False
        return proc in self._expired or (self.loaded and self._clock() >= self._lenient_until)

    def leniency_ended(self) -> bool:
        """True once, when the leniency after a rebuilt bucket has passed: entries that came in
        meanwhile without a heartbeat are judged then (any later one is judged as it arrives)."""
        if not self.loaded or self._lenient_until == float("-inf") or self._clock() < self._lenient_until:
            return False
        self._lenient_until = float("-inf")
        return True

    def heard(self, proc: str, revision: int, *, alive: bool) -> bool:
        """A heartbeat written (`alive`) or expired at `revision`. True when an expiry is news: the
        mirror then drops what the process wrote before it, even if a later heartbeat is known."""
        newest = revision > max(self.procs.get(proc, 0), self._expiry(proc))
        expired = not alive and revision > self._expiry(proc)
        if expired:
            self._remember_expiry(proc, revision)
        if newest:
            if alive:
                self.procs[proc] = revision
            else:
                self.procs.pop(proc, None)
        return expired

    def _expiry(self, proc: str) -> int:
        """The revision at which `proc`'s heartbeat last expired (0: none remembered)."""
        known = self._expired.get(proc)
        return known[0] if known is not None else 0

    def _remember_expiry(self, proc: str, revision: int) -> None:
        now = self._clock()
        self._expired[proc] = (revision, now)
        self._expired.move_to_end(proc)
        while self._expired:
            oldest, (_, heard_at) = next(iter(self._expired.items()))
            if now - heard_at <= self.remember_for:
                break
            del self._expired[oldest]
