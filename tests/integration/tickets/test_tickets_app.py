"""The application layer on every persistence module (in memory, SQLite, PostgreSQL): batching,
idempotency, numbers, public events."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared.contracts.tickets import EVENT_TYPES, parse_ticket_event
from tests.support.persistence import PersistenceEnv
from tickets.application.app import TicketsApplication
from tickets.application.batching import CommandBatcher, Executor
from tickets.application.commands import (
    AddInternalNote,
    Assign,
    Caller,
    ChangePriority,
    ChangeStatus,
    ChangeTopic,
    CommandResult,
    CreateTicket,
    FileUpload,
    MarkFirstResponseOverdue,
    Reply,
)
from tickets.application.handlers import Handlers
from tickets.application.numbers import NumberAllocator
from tickets.application.public_events import event_id, to_public
from tickets.domain.errors import (
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    TicketNotFound,
    UnknownTopic,
    VersionMismatch,
)
from tickets.domain.values import Actor, ActorKind, Importance, Priority, Status

pytestmark = pytest.mark.integration

TOPICS = ("Reports", "Other")
USER = Caller(
    actor=Actor(kind=ActorKind.USER, id="u1", name="Olena"), account_id="hotel-a", correlation_id="c1"
)
OTHER_USER = Caller(actor=Actor(kind=ActorKind.USER, id="u9", name="Petro"), account_id="hotel-b")
AGENT = Caller(actor=Actor(kind=ActorKind.AGENT, id="a1", name="Support"), account_id=None)


def store_env() -> dict[str, str]:
    """The env of a new store; each test replaces it with its persistence module's."""
    return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture(autouse=True)
def on_every_persistence_module(persistence_env: PersistenceEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.store_env", persistence_env)


def executor() -> Executor:
    app = TicketsApplication(env=store_env())
    return Executor(app=app, handlers=Handlers(topics=TOPICS), numbers=NumberAllocator(app, owner="test"))


def create(key: str | None = None, *, topic: str = "Reports", file: FileUpload | None = None) -> CreateTicket:
    return CreateTicket(
        caller=USER,
        account_id="hotel-a",
        topic=topic,
        importance=Importance.NORMAL,
        comment="Report broken",
        message="No totals",
        file=file,
        idempotency_key=key,
    )


def ok(outcome: object) -> CommandResult:
    assert isinstance(outcome, CommandResult), outcome
    return outcome


def upload() -> FileUpload:
    return FileUpload(
        attachment_id=uuid4(),
        object_name="o",
        filename="a.png",
        content_type="image/png",
        size=3,
        sha256="a" * 64,
    )


def test_a_batch_of_commands_is_committed_in_one_transaction() -> None:
    ex = executor()
    outcomes = ex.execute([create() for _ in range(20)])
    results = [ok(o) for o in outcomes]
    assert len({r.number for r in results}) == 20
    assert len({r.position for r in results}) == 1  # one save: one highest notification id


def test_one_failing_command_does_not_cost_the_others_their_write() -> None:
    ex = executor()
    outcomes = ex.execute([create(), create(topic="Nope"), create()])
    assert isinstance(outcomes[1], UnknownTopic)
    assert [type(o) for o in outcomes] == [CommandResult, UnknownTopic, CommandResult]
    for outcome in (outcomes[0], outcomes[2]):
        assert ex.app.get_ticket(ok(outcome).ticket_id).version == 1


def test_the_same_idempotency_key_twice_in_one_batch_gives_one_ticket() -> None:
    ex = executor()
    outcomes = [ok(o) for o in ex.execute([create("k1"), create("k1"), create("k2")])]
    assert outcomes[0].ticket_id == outcomes[1].ticket_id != outcomes[2].ticket_id
    assert outcomes[0].number == outcomes[1].number
    assert [o.created for o in outcomes] == [True, False, True]


def test_an_idempotent_repeat_in_a_later_batch_returns_the_first_ticket() -> None:
    ex = executor()
    first = ok(ex.execute_one(create("again")))
    second = ok(ex.execute_one(create("again")))
    assert (second.ticket_id, second.number, second.created) == (first.ticket_id, first.number, False)


def test_an_idempotency_key_reused_for_a_different_request_is_refused() -> None:
    ex = executor()
    ok(ex.execute_one(create("k")))
    other = CreateTicket(
        caller=USER,
        account_id="hotel-a",
        topic="Reports",
        importance=Importance.HIGH,
        comment="Something else",
        message="No totals",
        idempotency_key="k",
    )
    assert isinstance(ex.execute_one(other), IdempotencyKeyReused)
    outcomes = ex.execute([create("k2"), replace(other, idempotency_key="k2")])
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], IdempotencyKeyReused)


def test_commands_on_one_ticket_in_one_batch_apply_in_order() -> None:
    ex = executor()
    ticket = ok(ex.execute_one(create()))
    tid = ticket.ticket_id
    outcomes = ex.execute(
        [
            ChangeStatus(caller=AGENT, ticket_id=tid, status=Status.IN_PROGRESS),
            ChangeStatus(caller=AGENT, ticket_id=tid, status=Status.IN_PROGRESS),
            ChangePriority(caller=AGENT, ticket_id=tid, priority=Priority.P1, expected_version=2),
            ChangeTopic(caller=AGENT, ticket_id=tid, topic="Other", expected_version=2),
        ]
    )
    assert ok(outcomes[0]).version == 2
    assert isinstance(outcomes[1], IllegalTransition)
    assert ok(outcomes[2]).version == 3
    assert isinstance(outcomes[3], VersionMismatch)
    stored = ex.app.get_ticket(tid)
    assert (stored.version, stored.status, stored.priority, stored.topic) == (
        3,
        Status.IN_PROGRESS,
        Priority.P1,
        "Reports",
    )


def test_a_command_that_fails_half_way_is_rolled_back_with_the_batch_split() -> None:
    ex = executor()
    tid = ok(ex.execute_one(create())).ticket_id
    bad_file = FileUpload(
        attachment_id=uuid4(), object_name="o", filename="", content_type="image/png", size=1, sha256="a" * 64
    )
    outcomes = ex.execute(
        [
            Reply(caller=USER, ticket_id=tid, text="first"),
            Reply(caller=USER, ticket_id=tid, text="with a nameless file", file=bad_file),
            AddInternalNote(caller=AGENT, ticket_id=tid, text="note"),
        ]
    )
    assert isinstance(outcomes[1], InvalidInput)
    assert ok(outcomes[2]).version == 3
    assert ex.app.get_ticket(tid).version == 3


def test_a_user_cannot_reach_another_accounts_ticket() -> None:
    ex = executor()
    tid = ok(ex.execute_one(create())).ticket_id
    assert isinstance(ex.execute_one(Reply(caller=OTHER_USER, ticket_id=tid, text="hi")), TicketNotFound)
    assert isinstance(ex.execute_one(Reply(caller=USER, ticket_id=uuid4(), text="hi")), TicketNotFound)
    assert isinstance(ex.execute_one(AddInternalNote(caller=USER, ticket_id=tid, text="x")), NotAllowed)


def test_numbers_from_two_allocators_on_one_store_never_collide() -> None:
    app = TicketsApplication(env=store_env())
    one, two = NumberAllocator(app, owner="one"), NumberAllocator(app, owner="two")
    numbers = one.take(3) + two.take(25) + one.take(30) + two.take(1)
    assert len(numbers) == len(set(numbers)) == 59


def test_every_stored_event_maps_onto_its_public_contract_with_a_stable_id() -> None:
    ex = executor()
    # Support promised a first answer by a moment already past: the breach is one more event.
    ex.handlers.promise = lambda topic, importance, at: datetime(2026, 3, 27, tzinfo=UTC)
    tid = ok(ex.execute_one(create(file=upload()))).ticket_id
    late = MarkFirstResponseOverdue(caller=AGENT, ticket_id=tid, now=datetime(2026, 3, 28, tzinfo=UTC))
    for command in (
        late,
        Reply(caller=AGENT, ticket_id=tid, text="hello", file=upload()),
        AddInternalNote(caller=AGENT, ticket_id=tid, text="internal"),
        ChangeStatus(caller=AGENT, ticket_id=tid, status=Status.WAITING_FOR_USER),
        Reply(caller=USER, ticket_id=tid, text="reopen"),
        ChangeTopic(caller=AGENT, ticket_id=tid, topic="Other"),
        ChangePriority(caller=AGENT, ticket_id=tid, priority=Priority.P3),
        Assign(caller=AGENT, ticket_id=tid, assignee_id="a1", assignee_name="Support"),
    ):
        ok(ex.execute_one(command))
    notifications = ex.app.recorder.select_notifications(start=1, limit=1000)
    envelopes = [to_public(ex.app.mapper.to_domain_event(n)) for n in notifications]
    public = [e for e in envelopes if e is not None]
    assert {e.type for e in public} == set(EVENT_TYPES)
    assert len(public) < len(envelopes)  # number blocks have no public form
    for envelope in public:
        parsed = parse_ticket_event(envelope.model_dump_json())
        assert parsed.event_id == event_id(tid, parsed.aggregate_version)
        assert (parsed.account_id, parsed.ticket_number) == ("hotel-a", ok_number(ex, tid))
    created = next(e for e in public if e.type == "ticket.created")
    assert created.correlation_id == "c1"
    reopened = next(
        e for e in public if e.type == "ticket.status_changed" and e.data.reason == "user_replied"
    )
    assert reopened.causation_id == str(event_id(tid, reopened.aggregate_version - 1))
    again = [to_public(ex.app.mapper.to_domain_event(n)) for n in notifications]
    assert [e.event_id for e in again if e] == [e.event_id for e in public]


def ok_number(ex: Executor, ticket_id: object) -> str:
    return ex.app.get_ticket(ticket_id).number  # type: ignore[arg-type]


async def test_concurrent_submissions_are_batched_and_each_caller_gets_its_own_outcome() -> None:
    ex = executor()
    batcher = CommandBatcher(ex, max_batch=64)
    batcher.start()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(batcher.submit(create()) for _ in range(50)),
                batcher.submit(create(topic="x")),
                return_exceptions=True,
            ),
            timeout=20,
        )
    finally:
        await batcher.stop()
    assert isinstance(results[-1], UnknownTopic)
    created = [r for r in results if isinstance(r, CommandResult)]
    assert len({r.number for r in created}) == 50
    assert len({r.position for r in created}) < 50  # at least some shared a transaction
