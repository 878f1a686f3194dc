"""Times as whole microseconds since the epoch (how the views store them: the same type, order and
value on SQLite and PostgreSQL), and calendar days in a time zone as half-open ranges of them. Pure.

A day runs from one local midnight to the next: a request or a popup at 00:30 in Kyiv belongs to
that Kyiv day though it is still the previous day in UTC, and a day on which the clocks change is 23
or 25 hours long.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400 * 1_000_000


class UnknownTimeZone(ValueError):
    """Raised when a time zone name is not an IANA zone this system knows."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r}: give an IANA name such as Europe/Kyiv")
        self.name = name


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. `Europe/Kyiv`); `UnknownTimeZone` when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a key at all (an absolute or `..` path); OSError: a directory, not a zone.
        raise UnknownTimeZone(name) from None


def to_micros(moment: datetime) -> int:
    """`moment` (naive = UTC) as microseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def day_start(day: date, zone: tzinfo = UTC) -> int:
    """The first instant of `day` in `zone`."""
    return to_micros(datetime.combine(day, time.min, tzinfo=zone))


def day_end(day: date, zone: tzinfo = UTC) -> int:
    """The first instant after `day` in `zone`: the next local midnight (9999-12-31 has no next day)."""
    if day < date.max:
        return day_start(day + timedelta(days=1), zone)
    return day_start(day, zone) + _DAY_US


def day_bounds(first: date, last: date, zone: tzinfo = UTC) -> tuple[int, int]:
    """[start of `first`, start of the day after `last`) in `zone`."""
    return day_start(first, zone), day_end(last, zone)
