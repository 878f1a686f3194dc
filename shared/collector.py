"""The cyclic garbage collector in a long-running service: one policy for every service.

A full collection walks every tracked object and holds the event loop meanwhile. What a service
allocates before it serves (modules, the app, its connections, a replayed index) lives as long as
the process, so it is collected once and frozen out of the collector's reach (`gc.freeze()`), and
while the app runs collections are rarer (`THRESHOLDS`; CPython's default is (700, 10, 10)).
Measured at 5,000 chat conversations (`benchmarks/chat_latency.py`, timed with `gc.callbacks`, load
1.6–4.7): each full collection held the loop 100 ms to 1.4 s, every ~5 s while users opened chats —
the 300 ms–1 s stalls of the slowest messages; with this no full collection ran after start-up in a
whole run, and p99 went from 39–110× to 2.3–2.5× raw NATS. Garbage cycles are still collected: young
ones as before, old ones by the rarer full collections.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from shared.processwide import ProcessWide, Undo

THRESHOLDS = (10_000, 20, 20)


def freeze_long_lived() -> None:
    """Collect what is garbage now, then freeze the rest: it is kept for the process's life. (A
    process about to fork its services freezes without collecting: `helpdesk.forking.preload`.)"""
    gc.collect()
    gc.freeze()


def _rarer_collections() -> Undo:
    before = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)

    def undo() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return undo


_SETTLED = ProcessWide(_rarer_collections)


@contextmanager
def settled_gc() -> Iterator[None]:
    """While the app runs (a lifespan wraps its `yield` in this): what start-up allocated frozen and
    collections rarer; as they were once the last app running ends (tests run many apps in one
    process, which may end in any order: `shared.processwide`)."""
    freeze_long_lived()
    with _SETTLED.held():
        yield
