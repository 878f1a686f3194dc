"""Support's working hours as pure rules: weekly intervals in a time zone, always-open, holidays and
one-off closures; when a topic is open, when it next opens, and business time added to an instant.

Every instant in and out is timezone-aware; the weekly intervals and holidays are read in the
calendar's own zone (so a 9:00–18:00 Kyiv day stays 9:00–18:00 whatever the caller's zone or its
daylight-saving changes). Nothing here reads a clock: callers pass `now`. The tickets service owns
the directory these calendars belong to; chat evaluates the same rules on the copy it follows from
the directory's events, which is why they live here, once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"[0-9]{1,2}:[0-9]{2}")
# How far ahead an opening is looked for: a calendar closed for longer is "never opens".
HORIZON_DAYS = 400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Window = tuple[datetime, datetime]


class CalendarInvalid(ValueError):
    """Raised when a calendar breaks a rule (an interval ending before it starts, overlapping
    intervals, an unknown time zone); `field` names the offending part."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str, *, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone `name`, or `CalendarInvalid` naming `field`."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarInvalid(f"unknown time zone {name!r}", field=field) from None


@dataclass(frozen=True, slots=True)
class Interval:
    """Open on `weekday` (0 = Monday) from `start` to `end`, minutes since local midnight; `end` may be
    1440 (midnight at the end of the day)."""

    weekday: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Closure:
    """A one-off closure (maintenance, a company event), from `start` to `end` (aware instants)."""

    start: datetime
    end: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Calendar:
    """When support answers a topic. `always_open` ignores `weekly` (holidays and closures still apply)."""

    id: str
    time_zone: str
    always_open: bool = False
    weekly: tuple[Interval, ...] = ()
    holidays: tuple[date, ...] = ()
    closures: tuple[Closure, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone(self.time_zone))
        self.check()

    @property
    def tz(self) -> ZoneInfo:
        return self._zone

    def check(self) -> None:
        """`CalendarInvalid` naming the first broken rule."""
        for i, interval in enumerate(self.weekly):
            where = f"weekly[{i}]"
            if not 0 <= interval.weekday <= 6:
                raise CalendarInvalid("weekday is 0 (Monday) to 6 (Sunday)", field=f"{where}.weekday")
            if not 0 <= interval.start < MINUTES_PER_DAY:
                raise CalendarInvalid("start is a time of day", field=f"{where}.start")
            if not 0 < interval.end <= MINUTES_PER_DAY:
                raise CalendarInvalid("end is a time of day, or 24:00", field=f"{where}.end")
            if interval.end <= interval.start:
                raise CalendarInvalid("the interval ends before it starts", field=f"{where}.end")
        by_day = sorted(enumerate(self.weekly), key=lambda p: (p[1].weekday, p[1].start))
        for (_, a), (j, b) in itertools.pairwise(by_day):
            if a.weekday == b.weekday and b.start < a.end:
                raise CalendarInvalid("the interval overlaps another on the same day", field=f"weekly[{j}]")
        for i, closure in enumerate(self.closures):
            where = f"closures[{i}]"
            if closure.start.tzinfo is None or closure.end.tzinfo is None:
                raise CalendarInvalid("a closure's instants need a UTC offset", field=f"{where}.start")
            if closure.end <= closure.start:
                raise CalendarInvalid("the closure ends before it starts", field=f"{where}.end")

    # --- rules ------------------------------------------------------------------------------------

    def windows(self, after: datetime) -> Iterator[Window]:
        """Open windows (UTC, merged, in order) from `after` on, the first clipped to start at `after`;
        ends after `HORIZON_DAYS`."""
        pending: Window | None = None
        for lo, hi in self._pieces(after):
            if pending is not None and lo <= pending[1]:
                pending = (pending[0], max(pending[1], hi))
                continue
            if pending is not None:
                yield pending
            pending = (lo, hi)
        if pending is not None:
            yield pending

    def _pieces(self, after: datetime) -> Iterator[Window]:
        """Open pieces (UTC, in order, not merged: one per interval of a day, less closures) from
        `after` on, the first clipped to start at `after`; ends after `HORIZON_DAYS`."""
        _aware(after)
        start = after.astimezone(UTC)
        horizon = start + timedelta(days=HORIZON_DAYS)
        for window in self._raw_windows(start.astimezone(self._zone).date() - timedelta(days=1), horizon):
            for piece in self._minus_closures(window):
                lo, hi = max(piece[0], start), piece[1]
                if hi > lo:
                    yield lo, hi

    def _raw_windows(self, first_day: date, horizon: datetime) -> Iterator[Window]:
        if self.always_open:
            yield from self._open_runs(first_day, horizon)
            return
        day = first_day
        holidays = set(self.holidays)
        by_start = sorted(self.weekly, key=lambda i: i.start)
        while True:
            day_start = _at(day, 0, self._zone)
            if day_start >= horizon:
                return
            if day not in holidays:
                for interval in by_start:
                    if interval.weekday == day.weekday():
                        yield _at(day, interval.start, self._zone), _at(day, interval.end, self._zone)
            day += timedelta(days=1)

    def _open_runs(self, first_day: date, horizon: datetime) -> Iterator[Window]:
        """An always-open calendar's windows: one from a day's start to the next holiday's (or to the
        end of the last day starting before `horizon`), not one per day: the same open time, without
        ~400 days of zone conversions for a status or a due time of a 24/7 topic."""
        last = horizon.astimezone(self._zone).date() - timedelta(days=1)
        while _at(last + timedelta(days=1), 0, self._zone) < horizon:
            last += timedelta(days=1)
        # `last` is the last day starting before the horizon; the runs stop before the day after it.
        stops = sorted({d for d in self.holidays if first_day <= d <= last} | {last + timedelta(days=1)})
        day = first_day
        for stop in stops:
            if day < stop:
                yield _at(day, 0, self._zone), _at(stop, 0, self._zone)
            day = stop + timedelta(days=1)

    def _minus_closures(self, window: Window) -> list[Window]:
        pieces = [window]
        for closure in self.closures:
            c_lo, c_hi = closure.start.astimezone(UTC), closure.end.astimezone(UTC)
            cut: list[Window] = []
            for lo, hi in pieces:
                if c_hi <= lo or c_lo >= hi:
                    cut.append((lo, hi))
                    continue
                if lo < c_lo:
                    cut.append((lo, c_lo))
                if c_hi < hi:
                    cut.append((c_hi, hi))
            pieces = cut
        return pieces

    def status(self, now: datetime) -> OpenStatus:
        """Open now or not; when it closes (if open) or next opens (if closed); None = not within reach."""
        # From the pieces, as `add_business_time`: the first one says whether it is open; when it is,
        # the following ones are joined only until a gap (the closing) or until the window is long
        # enough to count as never closing, not merged up to the horizon.
        pieces = self._pieces(now)
        first = next(pieces, None)
        if first is None:
            return OpenStatus(open_now=False, opens_at=None, closes_at=None)
        lo, hi = first
        if lo > now.astimezone(UTC):
            return OpenStatus(open_now=False, opens_at=lo, closes_at=None)
        never = timedelta(days=HORIZON_DAYS - 2)
        for next_lo, next_hi in pieces:
            if hi - lo >= never or next_lo > hi:
                break
            hi = max(hi, next_hi)
        return OpenStatus(open_now=True, opens_at=None, closes_at=None if hi - lo >= never else hi)

    def is_open(self, now: datetime) -> bool:
        return self.status(now).open_now

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime | None:
        """The instant `duration` of open time after `start` (closed hours, holidays and closures
        skipped); None when the calendar does not open that long within the horizon."""
        left = duration
        if left <= timedelta(0):
            return start.astimezone(UTC)
        # Over the pieces, not the merged windows: pieces do not overlap, so the sum is the same, and
        # a 24/7 calendar is not merged day by day up to the horizon (400 days) for each promise.
        for lo, hi in self._pieces(start):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
        return None


@dataclass(frozen=True, slots=True)
class OpenStatus:
    open_now: bool
    opens_at: datetime | None
    closes_at: datetime | None


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("calendar rules take timezone-aware instants")


def _at(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Local `day` + `minute` in `tz`, as UTC (24:00 is the next day's midnight; a time skipped by a
    daylight-saving change lands just after the gap)."""
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), minute - MINUTES_PER_DAY
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def parse_hhmm(text: str, *, field: str) -> int:
    """`"09:30"` → 570; `"24:00"` → 1440; else `CalendarInvalid` naming `field`."""
    # ASCII digits only: `str.isdigit()` would let `²` through to `int()`.
    if _HHMM.fullmatch(text) is None:
        raise CalendarInvalid(f"{text!r} is not a time (HH:MM)", field=field)
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY:
        raise CalendarInvalid(f"{text!r} is not a time (HH:MM)", field=field)
    return value


def format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
