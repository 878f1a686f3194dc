"""Ticket numbers without a read model: each block of numbers is an index aggregate with a uuid5 id.

Block `k` covers numbers `k*BLOCK_SIZE+1 … (k+1)*BLOCK_SIZE`. Reserving it means creating the aggregate
`NumberBlock` with id `block_id(k)`: the store's unique (id, version) key turns a second reservation of
the same block — by another thread or another process on the same store — into a version conflict, so
a number is never handed out twice, even across replicas. A reserved block is never given back: numbers
left unused when a process stops are skipped, never reused. `BLOCK_SIZE` is part of the meaning of
every stored block: changing it would make ranges overlap, so it is a constant, not a setting.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

NUMBER_BLOCK_NAMESPACE: Final = UUID("3b0e5c0e-4c8a-5d7e-9a57-0f1d2c3b4a59")
# Small enough that a restart skips few numbers, large enough that a busy process reserves rarely.
BLOCK_SIZE: Final = 10


def block_id(index: int) -> UUID:
    """The id of the block holding numbers `index*BLOCK_SIZE+1 … (index+1)*BLOCK_SIZE`."""
    return uuid5(NUMBER_BLOCK_NAMESPACE, f"ticket-number-block:{index}")


class NumberBlock(Aggregate):
    """A reserved block of ticket numbers."""

    @staticmethod
    def create_id(index: int) -> UUID:
        return block_id(index)

    class Reserved(Aggregate.Created):
        """The block is taken (stored as `NumberBlock.Reserved`: never rename it)."""

        index: int
        reserved_by: str

    @event(Reserved)
    def __init__(self, *, index: int, reserved_by: str) -> None:
        if index < 0:
            raise ValueError("a block index is never negative")
        self.index = index
        self.reserved_by = reserved_by

    @property
    def numbers(self) -> range:
        return range(self.index * BLOCK_SIZE + 1, (self.index + 1) * BLOCK_SIZE + 1)
