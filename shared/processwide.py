"""A process-wide setting held while any of its holders runs: applied by the first, undone by the last.

The interpreter's own knobs (the collector's thresholds, the GIL's switch interval) belong to the
process, while what changes them (an app's lifespan, a worker thread) can run several at once and end
in any order — tests run many apps in one process. Each holder saving "the value before me" and
putting it back at its end leaves the setting changed for good when two overlap and the first ends
first; counted holders do not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Undo = Callable[[], None]


class ProcessWide:
    """`apply()` changes the setting and returns how to undo it; `acquire`/`release` count holders."""

    def __init__(self, apply: Callable[[], Undo]) -> None:
        self._apply = apply
        self._holders = 0
        self._undo: Undo | None = None
        self._lock = threading.Lock()

    @property
    def holders(self) -> int:
        return self._holders

    def acquire(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._undo = self._apply()
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            if self._holders == 0:
                return  # released more often than acquired: nothing is held
            self._holders -= 1
            if self._holders == 0 and self._undo is not None:
                undo, self._undo = self._undo, None
                undo()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
