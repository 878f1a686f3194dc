"""Support's calendar rules at fixed instants: Moscow business hours, holidays, closures, callers in
Warsaw and Kyiv across their daylight-saving changes, 24/7 topics; and on random calendars, the
shortcuts (status from the open pieces, always-open runs) against the plain day-by-day rules."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import (
    HORIZON_DAYS,
    MINUTES_PER_DAY,
    Calendar,
    CalendarInvalid,
    Closure,
    Interval,
    OpenStatus,
    parse_hhmm,
)

MSK = ZoneInfo("Europe/Moscow")
WARSAW = ZoneInfo("Europe/Warsaw")
KYIV = ZoneInfo("Europe/Kyiv")


def business(**extra: object) -> Calendar:
    """Monday to Friday, 9:00–18:00 Moscow time (the additional-services hours)."""
    weekly = tuple(Interval(weekday=d, start=9 * 60, end=18 * 60) for d in range(5))
    return Calendar(id="services", time_zone="Europe/Moscow", weekly=weekly, **extra)  # type: ignore[arg-type]


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)  # type: ignore[arg-type,misc]


# 2026-03-27 is a Friday; 2026-03-28/29 the weekend (Europe switches to summer time on the 29th).
FRIDAY = (2026, 3, 27)
MONDAY = (2026, 3, 30)


def test_friday_1759_moscow_is_open_and_closes_at_1800() -> None:
    status = business().status(msk(*FRIDAY, 17, 59))
    assert status.open_now
    assert status.closes_at == msk(*FRIDAY, 18, 0)


def test_friday_1800_moscow_is_closed_until_monday_0900() -> None:
    status = business().status(msk(*FRIDAY, 18, 0))
    assert not status.open_now
    assert status.opens_at == msk(*MONDAY, 9, 0)


def test_saturday_is_closed() -> None:
    assert not business().is_open(msk(2026, 3, 28, 12, 0))


def test_a_holiday_is_closed_all_day_and_the_next_opening_skips_it() -> None:
    calendar = business(holidays=(date(*MONDAY),))
    assert not calendar.is_open(msk(*MONDAY, 12, 0))
    assert calendar.status(msk(*FRIDAY, 19, 0)).opens_at == msk(2026, 3, 31, 9, 0)


def test_a_one_off_closure_cuts_the_day() -> None:
    closure = Closure(start=msk(*MONDAY, 9, 0), end=msk(*MONDAY, 13, 0))
    calendar = business(closures=(closure,))
    assert not calendar.is_open(msk(*MONDAY, 10, 0))
    assert calendar.status(msk(*MONDAY, 10, 0)).opens_at == msk(*MONDAY, 13, 0)


def test_one_business_hour_from_friday_1730_is_monday_0930() -> None:
    due = business().add_business_time(msk(*FRIDAY, 17, 30), timedelta(hours=1))
    assert due == msk(*MONDAY, 9, 30)


def test_business_time_skips_a_holiday() -> None:
    calendar = business(holidays=(date(*MONDAY),))
    assert calendar.add_business_time(msk(*FRIDAY, 17, 30), timedelta(hours=1)) == msk(2026, 3, 31, 9, 30)


def test_business_time_from_before_opening_starts_at_opening() -> None:
    assert business().add_business_time(msk(*MONDAY, 7, 0), timedelta(hours=2)) == msk(*MONDAY, 11, 0)


def test_a_user_in_warsaw_sees_the_same_instant_across_the_dst_change() -> None:
    # Warsaw moves from UTC+1 to UTC+2 on 2026-03-29; Moscow stays UTC+3.
    opens = business().status(datetime(2026, 3, 27, 17, 0, tzinfo=WARSAW)).opens_at  # 19:00 MSK: closed
    assert opens is not None
    assert opens.astimezone(WARSAW) == datetime(2026, 3, 30, 8, 0, tzinfo=WARSAW)  # 7:00 before the change
    assert opens.astimezone(WARSAW).utcoffset() == timedelta(hours=2)
    # Friday 7:30 Warsaw (winter time) is 9:30 Moscow: open.
    assert business().is_open(datetime(2026, 3, 27, 7, 30, tzinfo=WARSAW))


def test_a_user_in_kyiv_across_the_autumn_change() -> None:
    # Kyiv moves from UTC+3 to UTC+2 on 2026-10-25 (Sunday): Monday 9:00 MSK is 8:00 in Kyiv.
    opens = business().status(datetime(2026, 10, 24, 12, 0, tzinfo=KYIV)).opens_at
    assert opens == msk(2026, 10, 26, 9, 0)
    assert opens is not None and opens.astimezone(KYIV).hour == 8
    # The Friday before, 9:00 Kyiv summer time is 9:00 Moscow: open.
    assert business().is_open(datetime(2026, 10, 23, 9, 0, tzinfo=KYIV))


def test_a_calendar_in_a_dst_zone_keeps_local_hours_across_the_change() -> None:
    weekly = tuple(Interval(weekday=d, start=9 * 60, end=18 * 60) for d in range(7))
    warsaw = Calendar(id="pl", time_zone="Europe/Warsaw", weekly=weekly)
    assert warsaw.status(datetime(2026, 3, 28, 18, 30, tzinfo=WARSAW)).opens_at == datetime(
        2026, 3, 29, 9, 0, tzinfo=WARSAW
    )
    assert warsaw.add_business_time(
        datetime(2026, 3, 28, 17, 0, tzinfo=WARSAW), timedelta(hours=2)
    ) == datetime(2026, 3, 29, 10, 0, tzinfo=WARSAW)


@pytest.mark.parametrize(
    "moment",
    [
        msk(2026, 3, 28, 3, 0),
        msk(2026, 12, 31, 23, 59),
        datetime(2026, 3, 29, 2, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 3, 30, tzinfo=KYIV),
    ],
)
def test_a_24_7_topic_is_never_closed(moment: datetime) -> None:
    always = Calendar(id="all", time_zone="Europe/Moscow", always_open=True)
    status = always.status(moment)
    assert status.open_now and status.closes_at is None
    assert always.add_business_time(moment, timedelta(hours=1)) == moment.astimezone(UTC) + timedelta(hours=1)


def test_a_calendar_with_no_hours_never_opens() -> None:
    never = Calendar(id="never", time_zone="Europe/Moscow")
    status = never.status(msk(*FRIDAY, 12, 0))
    assert not status.open_now and status.opens_at is None
    assert never.add_business_time(msk(*FRIDAY, 12, 0), timedelta(hours=1)) is None


def test_an_interval_ending_before_it_starts_is_refused_with_its_field() -> None:
    with pytest.raises(CalendarInvalid) as error:
        Calendar(id="x", time_zone="Europe/Moscow", weekly=(Interval(weekday=0, start=600, end=540),))
    assert error.value.field == "weekly[0].end"


def test_overlapping_intervals_are_refused_with_their_field() -> None:
    weekly = (Interval(weekday=2, start=540, end=780), Interval(weekday=2, start=720, end=900))
    with pytest.raises(CalendarInvalid) as error:
        Calendar(id="x", time_zone="Europe/Moscow", weekly=weekly)
    assert error.value.field == "weekly[1]"


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CalendarInvalid) as error:
        Calendar(id="x", time_zone="Mars/Olympus")
    assert error.value.field == "time_zone"


@pytest.mark.parametrize("text", ["9", "25:00", "09:60", "ab:cd", "24:01", "²9:00", "09:٣0", "+9:00"])
def test_times_of_day_are_hh_mm(text: str) -> None:
    with pytest.raises(CalendarInvalid):
        parse_hhmm(text, field="start")


def test_24_00_is_midnight_at_the_end_of_the_day() -> None:
    assert parse_hhmm("24:00", field="end") == 1440


def test_business_time_runs_on_across_back_to_back_intervals_and_midnight() -> None:
    """Intervals that touch (01:30 ends one and starts the next; Sunday 23:00–24:00 then Monday 00:00)
    count as one stretch of open time."""
    calendar = Calendar(
        id="night",
        time_zone="Europe/Moscow",
        weekly=(
            Interval(weekday=6, start=23 * 60, end=24 * 60),
            Interval(weekday=0, start=0, end=90),
            Interval(weekday=0, start=90, end=150),
        ),
    )
    sunday_2330 = msk(2026, 3, 29, 23, 30)
    assert calendar.add_business_time(sunday_2330, timedelta(hours=2)) == msk(*MONDAY, 1, 30)
    assert calendar.add_business_time(sunday_2330, timedelta(hours=3)) == msk(*MONDAY, 2, 30)
    assert calendar.add_business_time(sunday_2330, timedelta(hours=3, minutes=1)) == msk(2026, 4, 5, 23, 1)


# --- the shortcuts agree with the plain rules on random calendars ---------------------------------------

ZONES = ("Europe/Moscow", "Europe/Kyiv", "Europe/Warsaw", "America/Santiago", "Australia/Lord_Howe", "UTC")
ALL_DAY = tuple(Interval(weekday=d, start=0, end=MINUTES_PER_DAY) for d in range(7))


def random_calendar(rng: random.Random, *, always_open: bool) -> Calendar:
    """Holidays and closures around late March 2026 (Europe's and Lord Howe's clock changes), some
    long enough to reach the horizon; weekly hours, when not always open, in up to three pieces a day."""
    anchor = datetime(2026, 3, 20, tzinfo=UTC)
    weekly = []
    for day in range(7):
        start = rng.randrange(0, 600)
        for _ in range(rng.randint(0, 3)):
            end = min(MINUTES_PER_DAY, start + rng.randint(1, 600))
            weekly.append(Interval(weekday=day, start=start, end=end))
            start = end + rng.choice((0, 0, 30))  # intervals that touch, and gaps
            if start >= MINUTES_PER_DAY:
                break
    holidays = tuple(
        anchor.date() + timedelta(days=rng.randint(-2, 420)) for _ in range(rng.choice((0, 2, 30)))
    )
    closures = []
    for _ in range(rng.choice((0, 1, 3))):
        begins = anchor + timedelta(minutes=rng.randint(-2000, 20_000))
        length = timedelta(minutes=rng.randint(1, rng.choice((120, 5000, HORIZON_DAYS * MINUTES_PER_DAY))))
        closures.append(Closure(start=begins, end=begins + length))
    return Calendar(
        id="random",
        time_zone=rng.choice(ZONES),
        always_open=always_open,
        weekly=() if always_open else tuple(weekly),
        holidays=holidays,
        closures=tuple(closures),
    )


def status_of_first_window(calendar: Calendar, now: datetime) -> OpenStatus:
    """The status read off the first merged window, the windows walked to the horizon."""
    first = next(calendar.windows(now), None)
    if first is None:
        return OpenStatus(open_now=False, opens_at=None, closes_at=None)
    if first[0] <= now:
        closes = None if first[1] - first[0] >= timedelta(days=HORIZON_DAYS - 2) else first[1]
        return OpenStatus(open_now=True, opens_at=None, closes_at=closes)
    return OpenStatus(open_now=False, opens_at=first[0], closes_at=None)


@pytest.mark.parametrize("seed", range(4))
def test_status_joins_pieces_only_as_far_as_the_first_window_reaches(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        calendar = random_calendar(rng, always_open=rng.random() < 0.5)
        for _ in range(4):
            now = datetime(2026, 3, 20, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 20_000))
            assert calendar.status(now) == status_of_first_window(calendar, now)


@pytest.mark.parametrize("seed", range(4))
def test_always_open_runs_between_holidays_match_open_all_day_every_day(seed: int) -> None:
    """An always-open calendar's windows run from holiday to holiday; the same calendar written as
    00:00–24:00 on every day (one window a day) gives the same statuses, due times and windows."""
    rng = random.Random(seed)
    for _ in range(15):
        always = random_calendar(rng, always_open=True)
        daily = Calendar(
            id="daily",
            time_zone=always.time_zone,
            weekly=ALL_DAY,
            holidays=always.holidays,
            closures=always.closures,
        )
        for _ in range(3):
            now = datetime(2026, 3, 20, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 20_000))
            duration = timedelta(minutes=rng.choice((0, 1, 90, 1440, 10_000, 399 * MINUTES_PER_DAY)))
            assert always.status(now) == daily.status(now)
            assert always.add_business_time(now, duration) == daily.add_business_time(now, duration)
            assert list(itertools.islice(always.windows(now), 5)) == list(
                itertools.islice(daily.windows(now), 5)
            )
