"""What every list endpoint shares: keyset cursors (a time in microseconds and an id, opaque to the
client, plus how many rows came before it) and the `tz` query parameter for calendar-day filters; bad
values are a 422 in the shared error shape naming the parameter."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.days import UnknownTimeZone, time_zone
from shared.errors import ErrorDetail, Unprocessable
from shared.parsing import natural


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the row at (`at_us`, `item_id`), with `shown` rows before it."""

    at_us: int
    item_id: str
    shown: int = 0

    @property
    def key(self) -> tuple[int, str]:
        return self.at_us, self.item_id


def encode_cursor(at_us: int, item_id: UUID | str, *, shown: int = 0) -> str:
    """The position after the item last shown: its sort time, its id (the tie-breaker) and, for a list
    that numbers its rows, how many rows the pages so far held (the next page numbers on from it)."""
    raw = f"{at_us}:{item_id}" + (f":{shown}" if shown else "")
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> Cursor:
    """`encode_cursor`'s fields; anything else (a time beyond 64 bits included) is a 422 on `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_us, _, rest = raw.partition(":")
        item_id, _, shown = rest.partition(":")
        at, count = natural(at_us), natural(shown) if shown else 0
        if at is None or count is None:
            raise ValueError(raw)
        return Cursor(at_us=at, item_id=str(UUID(item_id)), shown=count)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unprocessable(
            "the cursor is not valid",
            details=[ErrorDetail(loc=["query", "cursor"], msg="not a cursor from this list", type="cursor")],
        ) from None


def decode_cursor(cursor: str) -> tuple[int, str]:
    """`encode_cursor`'s (time, id); anything else is a 422 on `cursor`."""
    return read_cursor(cursor).key


def zone_of(name: str) -> ZoneInfo:
    """The `tz` query parameter as a zone; an unknown one is a 422 on `tz`."""
    try:
        return time_zone(name)
    except UnknownTimeZone as exc:
        raise Unprocessable(
            str(exc), details=[ErrorDetail(loc=["query", "tz"], msg=str(exc), type="time_zone")]
        ) from None
