"""The history views' rules: which row changes each public ticket event makes (pure)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.tickets import (
    AssigneeChanged,
    Importance,
    InternalNoteAdded,
    Priority,
    PriorityChanged,
    Status,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TopicChanged,
)
from shared.days import UnknownTimeZone, day_bounds, from_micros, time_zone, to_micros
from shared.errors import Unprocessable
from shared.listing import decode_cursor, encode_cursor
from tickets.projections.history import TicketChange, TicketRow, project
from tickets.projections.store import ListQuery, _counts_sql, _list_sql
from tickets.projections.waiter import ViewWaiter

pytestmark = pytest.mark.unit

TICKET = UUID("00000000-0000-0000-0000-000000000001")
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def envelope(data: TicketEventData, *, version: int = 2, event_type: str = "ticket.status_changed") -> Any:
    return EventEnvelope[TicketEventData](
        event_id=uuid4(),
        type=event_type,
        schema_version=1,
        occurred_at=AT,
        account_id="hotel-a",
        aggregate_id=TICKET,
        aggregate_version=version,
        ticket_number="HD-000001",
        actor=Actor(kind=ActorKind.AGENT, id="agent-1", name="Ann"),
        data=data,
    )


def test_a_created_event_makes_a_new_list_row_and_the_first_timeline_line() -> None:
    created = TicketCreated(
        number="HD-000001",
        topic="Reports",
        importance=Importance.HIGH,
        comment="c",
        message="m",
        message_id=uuid4(),
    )
    result = project(envelope(created, version=1, event_type="ticket.created"))
    assert isinstance(result.ticket, TicketRow)
    assert (result.ticket.number, result.ticket.status, result.ticket.importance) == (
        "HD-000001",
        "new",
        "high",
    )
    assert result.ticket.created_us == to_micros(AT)
    assert result.timeline.version == 1
    assert not result.timeline.internal


@pytest.mark.parametrize(
    ("data", "columns"),
    [
        (StatusChanged(old=Status.NEW, new=Status.RESOLVED), {"status": "resolved"}),
        (TopicChanged(old="a", new="b"), {"topic": "b"}),
        (PriorityChanged(old=None, new=Priority.P1), {"priority": "p1"}),
        (PriorityChanged(old=Priority.P1, new=None), {"priority": None}),
        (
            AssigneeChanged(old=None, new="agent-2", new_name="Bo"),
            {"assignee_id": "agent-2", "assignee_name": "Bo"},
        ),
        (
            AssigneeChanged(old="agent-2", new=None, new_name="Bo"),
            {"assignee_id": None, "assignee_name": None},
        ),
    ],
)
def test_a_change_event_sets_only_its_columns_and_the_last_update(
    data: TicketEventData, columns: dict[str, Any]
) -> None:
    result = project(envelope(data, version=4))
    assert result.ticket == TicketChange(
        ticket_id=str(TICKET), version=4, updated_us=to_micros(AT), columns=columns
    )


def test_an_internal_note_is_an_internal_line_and_not_a_visible_update() -> None:
    result = project(
        envelope(InternalNoteAdded(note_id=uuid4(), text="x"), event_type="ticket.internal_note_added")
    )
    assert result.timeline.internal
    assert isinstance(result.ticket, TicketChange)
    assert result.ticket.updated_us is None


def test_times_round_trip_through_microseconds_and_days_are_utc_half_open_ranges() -> None:
    assert from_micros(to_micros(AT)) == AT
    start, end = day_bounds(date(2026, 3, 1), date(2026, 3, 2))
    assert from_micros(start) == datetime(2026, 3, 1, tzinfo=UTC)
    assert from_micros(end) == datetime(2026, 3, 3, tzinfo=UTC)


def test_days_in_a_time_zone_start_at_its_local_midnight() -> None:
    kyiv = time_zone("Europe/Kyiv")
    start, end = day_bounds(date(2026, 3, 2), date(2026, 3, 2), kyiv)
    assert from_micros(start) == datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # EET, UTC+2
    assert from_micros(end) == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    at = to_micros(datetime(2026, 3, 1, 22, 30, tzinfo=UTC))  # 00:30 on 2 March in Kyiv
    assert start <= at < end
    first, last = day_bounds(date(2026, 3, 1), date(2026, 3, 1), kyiv)
    assert not first <= at < last


def test_a_day_when_the_clocks_change_is_23_or_25_hours_long() -> None:
    kyiv = time_zone("Europe/Kyiv")
    spring = day_bounds(date(2026, 3, 29), date(2026, 3, 29), kyiv)
    autumn = day_bounds(date(2026, 10, 25), date(2026, 10, 25), kyiv)
    assert spring[1] - spring[0] == 23 * 3600 * 1_000_000
    assert autumn[1] - autumn[0] == 25 * 3600 * 1_000_000


def test_the_first_and_last_days_of_the_calendar_have_bounds_in_any_zone() -> None:
    for name in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        start, end = day_bounds(date.min, date.max, time_zone(name))
        assert start < 0 < end < 2**63


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "/etc/passwd", "../../etc/passwd", "Europe", "x" * 300])
def test_a_name_that_is_not_an_iana_zone_is_refused(name: str) -> None:
    with pytest.raises(UnknownTimeZone):
        time_zone(name)


def test_a_cursor_round_trips_and_garbage_is_a_validation_error() -> None:
    ticket_id = str(uuid4())
    assert decode_cursor(encode_cursor(123, ticket_id)) == (123, ticket_id)
    with pytest.raises(Unprocessable):
        decode_cursor("bm90LWEtY3Vyc29y")


def test_the_list_query_binds_every_value_and_orders_by_the_keyset() -> None:
    sql, params = _list_sql(
        ListQuery(
            account_id="a'; drop", statuses=["new", "resolved"], unassigned=True, after=(5, "t"), limit=3
        )
    )
    assert "drop" not in sql
    assert params["account_id"] == "a'; drop"
    assert "(updated_us, ticket_id) < (:after_us, :after_id)" in sql
    assert sql.endswith("ORDER BY updated_us DESC, ticket_id DESC LIMIT :limit")


def test_repeated_filters_are_a_choice_each_and_the_counts_ignore_the_status_filter() -> None:
    query = ListQuery(
        statuses=["new", "in_progress"],
        topics=["billing"],
        importances=["high", "critical"],
        priorities=["p1"],
    )
    sql, params = _list_sql(query)
    assert "status IN (:status_0, :status_1)" in sql and "topic = :topic_0" in sql
    assert "importance IN (:importance_0, :importance_1)" in sql and "priority = :priority_0" in sql
    assert params["importance_1"] == "critical"
    counts, count_params = _counts_sql(query)
    assert "status IN" not in counts and counts.endswith("GROUP BY status")
    assert "importance IN (:importance_0, :importance_1)" in counts and "status_0" not in count_params


async def test_the_waiter_is_released_by_the_projector_without_reading_the_view_again() -> None:
    waiter = ViewWaiter(poll_interval=10.0)
    reads = []

    async def check() -> bool:
        reads.append(1)
        return False

    async def later() -> None:
        await asyncio.sleep(0.02)
        waiter.applied(7, {"t1": 2})  # not yet the version asked for
        await asyncio.sleep(0.02)
        waiter.applied(8, {"t1": 3, "t2": 1})

    task = asyncio.create_task(later())
    assert await asyncio.wait_for(waiter.wait_for("t1", 3, check, within=5.0), 2.0)
    await task
    assert len(reads) == 1


async def test_the_waiter_polls_the_view_and_gives_up_after_its_bound() -> None:
    waiter = ViewWaiter(poll_interval=0.01)
    state = {"reads": 0}

    async def check() -> bool:
        state["reads"] += 1
        return state["reads"] >= 3

    assert await waiter.wait_for("t1", 1, check, within=2.0)

    async def never() -> bool:
        return False

    started = asyncio.get_running_loop().time()
    assert not await waiter.wait_for("t1", 1, never, within=0.05)
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_the_waiter_says_whether_a_read_waits_for_one_of_a_batchs_tickets() -> None:
    waiter = ViewWaiter(poll_interval=10.0)
    assert not waiter.waits_for_any({"t1": 1})
    reading = asyncio.Event()

    async def check() -> bool:
        reading.set()
        return False

    read = asyncio.create_task(waiter.wait_for("t1", 2, check, within=5.0))
    await reading.wait()  # registered before its first look at the view
    assert waiter.waits_for_any({"t2": 1, "t1": 1})
    assert not waiter.waits_for_any({"t2": 1})
    waiter.applied(9, {"t1": 2})
    assert await read
    assert not waiter.waits_for_any({"t1": 2})


async def test_a_batch_applied_while_the_view_is_being_read_still_releases_the_waiting_read() -> None:
    # The wait is registered before the view is read: no wake-up is lost between the two.
    waiter = ViewWaiter(poll_interval=10.0)
    reads = []

    async def check() -> bool:
        reads.append(1)
        waiter.applied(9, {"t1": 4})  # the projector commits while this read is in flight
        return False  # the read saw the view just before that commit

    assert await asyncio.wait_for(waiter.wait_for("t1", 4, check, within=5.0), 1.0)
    assert len(reads) == 1


async def test_the_waiter_backs_off_between_re_reads_of_the_view() -> None:
    waiter = ViewWaiter(poll_interval=0.01, max_poll_interval=0.04)
    reads: list[float] = []

    async def check() -> bool:
        reads.append(asyncio.get_running_loop().time())
        return False

    assert not await waiter.wait_for("t1", 1, check, within=0.2)
    gaps = [b - a for a, b in itertools.pairwise(reads)]
    assert 4 <= len(reads) <= 10
    assert gaps[2] > 1.5 * gaps[0]  # 10 ms, 20 ms, 40 ms (the last one cut by the bound)
