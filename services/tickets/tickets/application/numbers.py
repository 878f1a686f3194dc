"""Allocating ticket numbers from reserved `NumberBlock`s, safely across threads and processes."""

from __future__ import annotations

import threading
from collections import deque

from eventsourcing.persistence import IntegrityError

from tickets.application.app import TicketsApplication
from tickets.domain.errors import ConcurrentChange
from tickets.domain.numbers import BLOCK_SIZE, NumberBlock, block_id
from tickets.domain.values import format_number

MAX_RESERVE_ATTEMPTS = 50


class NumberAllocator:
    """Hands out numbers from blocks this process reserved; reserves more (one save) when short.

    Reserved blocks are a prefix of 0, 1, 2, … (each reservation takes the lowest free block above
    the last one seen), so the first free block is found by an exponential then binary search on
    `exists`, and a conflict with another writer just moves on to the next block.
    """

    def __init__(self, app: TicketsApplication, *, owner: str) -> None:
        self._app = app
        self._owner = owner
        self._free: deque[int] = deque()
        self._next_index: int | None = None
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> list[str]:
        """`count` new numbers such as `HD-000123`; each is returned once, ever, across processes."""
        with self._lock:
            if len(self._free) < count:
                self._reserve(count - len(self._free))
            return [format_number(self._free.popleft()) for _ in range(count)]

    def take_into(self, pending: list[NumberBlock]) -> str:
        """A number for a command about to be saved; when short, the next free block is appended to
        `pending`, to be saved in the same transaction as the command (no extra round trip). If that
        transaction fails, call `rollback(pending)`: a block taken meanwhile by another writer then
        shows up as a conflict, and the search moves past it."""
        with self._lock:
            if not self._free:
                start = self._first_free_index()
                block = NumberBlock(index=start, reserved_by=self._owner)
                self._next_index = start + 1
                pending.append(block)
                self._free.extend(block.numbers)
            return format_number(self._free.popleft())

    def rollback(self, pending: list[NumberBlock]) -> None:
        """Forget blocks whose transaction failed (their numbers were never stored)."""
        if not pending:
            return
        with self._lock:
            dropped = {n for block in pending for n in block.numbers}
            self._free = deque(n for n in self._free if n not in dropped)
            self._next_index = min(block.index for block in pending)

    def _reserve(self, missing: int) -> None:
        blocks = -(-missing // BLOCK_SIZE)
        for _ in range(MAX_RESERVE_ATTEMPTS):
            start = self._first_free_index()
            reserved = [NumberBlock(index=i, reserved_by=self._owner) for i in range(start, start + blocks)]
            try:
                self._app.save_all(reserved)
            except IntegrityError:
                # Another writer took one of them: search again from there.
                self._next_index = start + 1
                continue
            self._next_index = start + blocks
            for block in reserved:
                self._free.extend(block.numbers)
            return
        raise ConcurrentChange("could not reserve ticket numbers: too many concurrent writers")

    def _first_free_index(self) -> int:
        low = self._next_index or 0
        if not self._app.exists(block_id(low)):
            return low
        # Invariant: block `low` exists. Find some `high` that does not, then bisect.
        step = 1
        high = low + step
        while self._app.exists(block_id(high)):
            low = high
            step *= 2
            high = low + step
        while high - low > 1:
            middle = (low + high) // 2
            if self._app.exists(block_id(middle)):
                low = middle
            else:
                high = middle
        return high
