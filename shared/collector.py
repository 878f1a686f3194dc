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

Building what is kept frees about as much on the way (caches, numpy temporaries, grown and
shrunk buffers), and glibc keeps freed heap pages resident unless told otherwise: a kb-search
replica's index on a realistic vocabulary held ~60 MiB of them. So `freeze_long_lived` (what a
service calls once it has built what it keeps, e.g. kb-search's index once caught up) also hands the
heap's free pages back (`malloc_trim`, where the C library has it). An app's start (`settled_gc`)
hands them back only at the first start in a process: a deployed service starts one app, a test
process hundreds, each trim of its large heap costing up to ~0.2 s.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from shared.processwide import ProcessWide, Undo

THRESHOLDS = (10_000, 20, 20)


def freeze_long_lived() -> None:
    """Collect what is garbage now, then freeze the rest: it is kept for the process's life; then
    hand the heap's free pages back. (A process about to fork its services freezes without
    collecting: `helpdesk.forking.preload`.)"""
    _freeze()
    release_free_heap()


def _freeze() -> None:
    gc.collect()
    gc.freeze()


def release_free_heap() -> None:
    """Give the C heap's free pages back to the system: glibc's `malloc_trim(0)` (a few ms for a
    few hundred MiB); nothing where the C library has no such call (musl, macOS)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    return trim


@cache
def _release_free_heap_once() -> None:
    """`release_free_heap` the first time an app starts in this process, not at every start."""
    release_free_heap()


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
    process, which may end in any order: `shared.processwide`); the heap's free pages handed back at
    the first app's start only."""
    _freeze()
    _release_free_heap_once()
    with _SETTLED.held():
        yield
