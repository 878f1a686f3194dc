"""What every list endpoint shares: keyset cursors (a time in microseconds and an id, opaque to the
client) and the `tz` query parameter for calendar-day filters; bad values are a 422 in the shared
error shape naming the parameter."""

from __future__ import annotations

import base64
import binascii
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.days import UnknownTimeZone, time_zone
from shared.errors import ErrorDetail, Unprocessable


def encode_cursor(at_us: int, item_id: UUID | str) -> str:
    """The position after the item last shown: its sort time and its id (the tie-breaker)."""
    return base64.urlsafe_b64encode(f"{at_us}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """`encode_cursor`'s (time, id); anything else is a 422 on `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_us, _, item_id = raw.partition(":")
        return int(at_us), str(UUID(item_id))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unprocessable(
            "the cursor is not valid",
            details=[ErrorDetail(loc=["query", "cursor"], msg="not a cursor from this list", type="cursor")],
        ) from None


def zone_of(name: str) -> ZoneInfo:
    """The `tz` query parameter as a zone; an unknown one is a 422 on `tz`."""
    try:
        return time_zone(name)
    except UnknownTimeZone as exc:
        raise Unprocessable(
            str(exc), details=[ErrorDetail(loc=["query", "tz"], msg=str(exc), type="time_zone")]
        ) from None
