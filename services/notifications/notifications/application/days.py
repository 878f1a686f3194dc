"""Calendar days in the recipient's time zone, as half-open ranges of instants. Pure, no I/O.

The same rule as the tickets service's request list (`tickets.projections.history.day_bounds`): a
day runs from one local midnight to the next, so a popup at 00:30 in Kyiv belongs to that Kyiv day
even though it is still the previous day in UTC, and a day on which the clocks change is 23 or 25
hours long.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400 * 1_000_000


class UnknownTimeZone(ValueError):
    """Raised when a time zone name is not an IANA zone this system knows."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r}: give an IANA name such as Europe/Kyiv")
        self.name = name


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. `Europe/Kyiv`)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a key at all (an absolute or `..` path); OSError: a directory, not a zone.
        raise UnknownTimeZone(name) from None


def micros(at: datetime) -> int:
    """A time as whole microseconds since the epoch (as the views store times)."""
    return (at - _EPOCH) // _MICROSECOND


def day_start(day: date, zone: tzinfo) -> int:
    """The first instant of `day` in `zone`, in microseconds since the epoch."""
    return micros(datetime.combine(day, time.min, tzinfo=zone))


def day_end(day: date, zone: tzinfo) -> int:
    """The first instant after `day` in `zone` (the next local midnight), in microseconds."""
    if day < date.max:
        return day_start(day + timedelta(days=1), zone)
    return day_start(day, zone) + _DAY_US  # 9999-12-31 has no next day
