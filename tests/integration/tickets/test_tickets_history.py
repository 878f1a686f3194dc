"""The history projection and its HTTP API, fed by the relay from a real store through a real
nats-server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from shared.contracts.subjects import DLQ_STREAM
from shared.health import Readiness
from shared.http import create_app
from shared.nats import ensure_dead_letter_stream, stream_config
from shared.outbox import OutboxRelay
from shared.settings import CommonSettings, ServiceSettings
from tests.conftest import TokenFactory, auth
from tests.integration.tickets.test_tickets_relay import make_stream
from tests.integration.tickets.tickets_streams_helpers import (
    FakeTicket,
    FakeTickets,
    fake_to_envelope,
    sqlite_env,
    write_tickets,
)
from tests.support.wait import eventually
from tickets.adapters.relay import envelope_relay
from tickets.entrypoints import http_history
from tickets.entrypoints.cli import add_cli_commands, rebuild_history
from tickets.entrypoints.http_history import CONSISTENT_HEADER, HistoryReads
from tickets.entrypoints.workers import open_history_store
from tickets.projections.notices import follow_applied, publish_applied
from tickets.projections.projector import HistoryProjector, rebuild
from tickets.projections.store import HistoryStore
from tickets.projections.waiter import ViewWaiter
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.integration


@dataclass
class Pipeline:
    app: FakeTickets
    js: JetStreamContext
    prefix: str
    stream: str
    store: HistoryStore
    waiter: ViewWaiter
    projector: HistoryProjector
    relay: OutboxRelay[Any]


@pytest.fixture
async def pipeline(
    request: pytest.FixtureRequest, nats_url: str, nats_prefix: str, tmp_path: Path, store_factory: Any
) -> AsyncIterator[Pipeline]:
    """Relay and projector on this loop; `store_on_loop` (the embedded workers' way) when the test
    asks for it with an indirect parameter."""
    store_on_loop = bool(getattr(request, "param", False))
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = await make_stream(js, nats_prefix)
    await ensure_dead_letter_stream(js, prefix=nats_prefix)
    app = FakeTickets(env=sqlite_env(tmp_path / "store.sqlite"))
    store = store_factory()
    waiter = ViewWaiter()
    relay = envelope_relay(
        js=js,
        source=app.recorder,
        to_envelope=fake_to_envelope(app),
        prefix=nats_prefix,
        idle_wait=0.01,
        store_on_loop=store_on_loop,
    )

    async def applied(position: int, versions: Mapping[str, int]) -> None:
        waiter.applied(position, versions)
        await publish_applied(nc, nats_prefix, position, versions)

    projector = HistoryProjector(
        js=js, store=store, prefix=nats_prefix, on_applied=applied, store_on_loop=store_on_loop
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(projector.run(stop))]
    try:
        yield Pipeline(app, js, nats_prefix, stream, store, waiter, projector, relay)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        await nc.close()


async def caught_up(p: Pipeline) -> None:
    async def check() -> bool:
        stored = await asyncio.to_thread(p.app.recorder.max_notification_id)
        published = p.relay.position.notification_id if p.relay.position else 0
        info = await p.js.stream_info(p.stream)
        return published == stored and p.projector.position == info.state.last_seq

    await eventually(check, timeout=20.0)


@pytest.mark.parametrize("pipeline", [False, True], indirect=True, ids=["store-thread", "store-on-loop"])
async def test_the_views_hold_each_ticket_once_with_its_latest_state_and_timeline(pipeline: Pipeline) -> None:
    ids = await asyncio.to_thread(write_tickets, pipeline.app, 6)
    ticket: FakeTicket = pipeline.app.repository.get(ids[0])
    ticket.note(text="internal only")
    ticket.change_status(old="in_progress", new="resolved")
    pipeline.app.save(ticket)
    await eventually(lambda: _version(pipeline.store, ids[0], 5), timeout=20.0)
    row = pipeline.store.get_ticket(str(ids[0]))
    assert row is not None
    assert (row["status"], row["number"], row["version"]) == ("resolved", "HD-000000", 5)
    timeline = pipeline.store.timeline(str(ids[0]), include_internal=True)
    assert [t["type"] for t in timeline] == [
        "ticket.created",
        "ticket.replied",
        "ticket.status_changed",
        "ticket.internal_note_added",
        "ticket.status_changed",
    ]
    public = pipeline.store.timeline(str(ids[0]), include_internal=False)
    assert "ticket.internal_note_added" not in [t["type"] for t in public]
    tickets, _ = pipeline.store.dump()
    assert len(tickets) == 6


async def _version(store: HistoryStore, ticket_id: UUID, version: int) -> bool:
    return (await asyncio.to_thread(store.ticket_version, str(ticket_id)) or 0) >= version


async def test_a_rebuild_from_the_start_of_the_stream_gives_identical_rows(
    pipeline: Pipeline, store_factory: Any
) -> None:
    await asyncio.to_thread(write_tickets, pipeline.app, 30)
    await caught_up(pipeline)
    live = pipeline.store.dump()
    # Into a fresh store, and into the live one after a reset while its projector keeps running.
    fresh = store_factory("rebuilt")
    info = await pipeline.js.stream_info(pipeline.stream)
    rebuilder = HistoryProjector(js=pipeline.js, store=fresh, prefix=pipeline.prefix, batch_size=7)
    await asyncio.wait_for(rebuilder.run(asyncio.Event(), until_seq=info.state.last_seq), 20)
    assert fresh.dump() == live
    # The rebuild command resets the live store and replays while its projector keeps running.
    seen: list[int] = []
    end = await rebuild(
        js=pipeline.js,
        store=pipeline.store,
        prefix=pipeline.prefix,
        progress=lambda position, _: seen.append(position),
    )
    assert end == info.state.last_seq
    assert seen[-1] >= end
    assert pipeline.store.dump() == live
    await asyncio.to_thread(write_tickets, pipeline.app, 2, start=30)
    await caught_up(pipeline)
    assert len(pipeline.store.dump()[0]) == 32


async def test_a_restarted_projector_resumes_after_its_recorded_position(pipeline: Pipeline) -> None:
    await asyncio.to_thread(write_tickets, pipeline.app, 5)
    await caught_up(pipeline)
    position = pipeline.store.position()
    assert position == pipeline.projector.position
    before = pipeline.store.dump()
    second = HistoryProjector(js=pipeline.js, store=pipeline.store, prefix=pipeline.prefix)
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert second.position == position
    assert pipeline.store.dump() == before


async def test_a_poison_message_is_dead_lettered_and_the_view_moves_on(pipeline: Pipeline) -> None:
    await pipeline.js.publish(f"{pipeline.prefix}.helpdesk.tickets.v1.created", b'{"not": "an event"}')
    await asyncio.to_thread(write_tickets, pipeline.app, 1)
    await caught_up(pipeline)
    assert len(pipeline.store.dump()[0]) == 1
    dlq = stream_config(DLQ_STREAM, prefix=pipeline.prefix).name
    assert dlq
    msg = await pipeline.js.get_msg(dlq, seq=1)
    assert msg.headers and "ValidationError" in msg.headers["Helpdesk-Dead-Letter-Reason"]


# --- the HTTP API ------------------------------------------------------------------------------


def history_client(pipeline: Pipeline, common: CommonSettings, waiter: ViewWaiter) -> httpx.AsyncClient:
    settings = ServiceSettings(common=common)
    app: FastAPI = create_app(service="tickets", title="t", settings=settings, readiness=Readiness())
    app.state.history, app.state.history_reads = pipeline.store, HistoryReads(waiter=waiter, wait_timeout=3.0)
    app.include_router(http_history.router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(pipeline: Pipeline, common_settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with history_client(pipeline, common_settings, pipeline.waiter) as http:
        yield http


async def test_a_hotel_user_lists_only_their_own_account_newest_update_first_page_by_page(
    pipeline: Pipeline, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    ids_a = await asyncio.to_thread(write_tickets, pipeline.app, 5, account="hotel-a")
    await asyncio.to_thread(write_tickets, pipeline.app, 3, start=5, account="hotel-b")
    await caught_up(pipeline)
    token = make_token(role="user", account="hotel-a")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/api/v1/tickets", params=params, headers=auth(token))
        assert r.status_code == 200, r.text
        body = r.json()
        assert all(item["account_id"] == "hotel-a" for item in body["items"])
        assert all("priority" not in item or item["priority"] is None for item in body["items"])
        seen += [item["ticket_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in reversed(ids_a)]


async def test_filters_by_status_topic_and_day_narrow_the_list(
    pipeline: Pipeline, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    ids = await asyncio.to_thread(write_tickets, pipeline.app, 3)
    ticket: FakeTicket = pipeline.app.repository.get(ids[1])
    ticket.change_status(old="in_progress", new="resolved")
    pipeline.app.save(ticket)
    await caught_up(pipeline)
    token = auth(make_token(role="user", account="hotel-a"))
    resolved = await client.get("/api/v1/tickets", params={"status": "resolved"}, headers=token)
    assert [i["ticket_id"] for i in resolved.json()["items"]] == [str(ids[1])]
    both = await client.get(
        "/api/v1/tickets", params=[("status", "resolved"), ("status", "in_progress")], headers=token
    )
    assert len(both.json()["items"]) == 3
    today = datetime.now(UTC).date().isoformat()
    assert (
        len(
            (
                await client.get("/api/v1/tickets", params={"date": today, "topic": "billing"}, headers=token)
            ).json()["items"]
        )
        == 3
    )
    assert (await client.get("/api/v1/tickets", params={"date": "2001-01-01"}, headers=token)).json()[
        "items"
    ] == []
    bad = await client.get(
        "/api/v1/tickets", params={"date_from": today, "date_to": "2001-01-01"}, headers=token
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert (await client.get("/api/v1/tickets", params={"cursor": "%%%"}, headers=token)).status_code == 422
    assert (await client.get("/api/v1/tickets", params={"status": "nope"}, headers=token)).status_code == 422


async def test_support_sees_every_account_with_more_filters_and_users_may_not_use_them(
    pipeline: Pipeline, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    await asyncio.to_thread(write_tickets, pipeline.app, 2, account="hotel-a")
    await asyncio.to_thread(write_tickets, pipeline.app, 2, start=2, account="hotel-b")
    await caught_up(pipeline)
    agent = auth(make_token(role="agent", account=None, sub="agent-1"))
    everything = await client.get("/api/v1/tickets", headers=agent)
    assert {i["account_id"] for i in everything.json()["items"]} == {"hotel-a", "hotel-b"}
    only_b = await client.get(
        "/api/v1/tickets", params={"account_id": "hotel-b", "unassigned": True}, headers=agent
    )
    assert {i["account_id"] for i in only_b.json()["items"]} == {"hotel-b"}
    assert len(only_b.json()["items"]) == 2
    assigned = await client.get("/api/v1/tickets", params={"assignee": "agent-1"}, headers=agent)
    assert assigned.json()["items"] == []
    user = auth(make_token(role="user", account="hotel-a"))
    r = await client.get("/api/v1/tickets", params={"account_id": "hotel-b"}, headers=user)
    assert r.status_code == 403
    assert (await client.get("/api/v1/tickets")).status_code == 401


async def test_a_ticket_of_another_account_is_not_found_and_internal_notes_stay_with_support(
    pipeline: Pipeline, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    (ticket_id,) = await asyncio.to_thread(write_tickets, pipeline.app, 1, account="hotel-b")
    ticket: FakeTicket = pipeline.app.repository.get(ticket_id)
    ticket.note(text="internal")
    pipeline.app.save(ticket)
    await eventually(lambda: _version(pipeline.store, ticket_id, 4), timeout=20.0)
    other = await client.get(f"/api/v1/tickets/{ticket_id}", headers=auth(make_token(account="hotel-a")))
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    owner = await client.get(f"/api/v1/tickets/{ticket_id}", headers=auth(make_token(account="hotel-b")))
    assert owner.status_code == 200
    assert "ticket.internal_note_added" not in [t["type"] for t in owner.json()["timeline"]]
    agent = await client.get(
        f"/api/v1/tickets/{ticket_id}", headers=auth(make_token(role="agent", account=None))
    )
    assert [t["type"] for t in agent.json()["timeline"]][-1] == "ticket.internal_note_added"
    missing = await client.get(f"/api/v1/tickets/{UUID(int=7)}", headers=auth(make_token(account="hotel-b")))
    assert missing.status_code == 404


async def test_a_read_with_min_version_waits_for_the_view_to_catch_up_with_the_write(
    pipeline: Pipeline, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = auth(make_token(account="hotel-a"))
    (ticket_id,) = await asyncio.to_thread(write_tickets, pipeline.app, 1)
    pipeline.relay.wake()
    r = await client.get(
        "/api/v1/tickets", params={"ticket_id": str(ticket_id), "min_version": 3}, headers=token
    )
    assert r.headers[CONSISTENT_HEADER] == "true"
    assert [i["ticket_id"] for i in r.json()["items"]] == [str(ticket_id)]
    assert r.json()["items"][0]["version"] == 3
    detail = await client.get(f"/api/v1/tickets/{ticket_id}", params={"min_version": 3}, headers=token)
    assert detail.json()["version"] == 3
    never = await client.get(f"/api/v1/tickets/{ticket_id}", params={"min_version": 99}, headers=token)
    assert never.headers[CONSISTENT_HEADER] == "false"


class CrashMidBatch(Exception):
    pass


async def test_a_projector_that_dies_in_the_middle_of_a_batch_leaves_nothing_of_it_and_converges(
    pipeline: Pipeline, store_factory: Any
) -> None:
    await asyncio.to_thread(write_tickets, pipeline.app, 12)
    await caught_up(pipeline)
    expected = pipeline.store.dump()
    target = store_factory("crashing")
    original = target._execute
    calls = {"n": 0}

    def crash_after_some_rows(cur: Any, sql: str, params: dict[str, Any]) -> None:
        original(cur, sql, params)
        calls["n"] += 1
        if calls["n"] == 9:  # the position and a few rows of the first batch are written, not committed
            raise CrashMidBatch

    target._execute = crash_after_some_rows
    crashing = HistoryProjector(js=pipeline.js, store=target, prefix=pipeline.prefix, batch_size=10)
    with pytest.raises(CrashMidBatch):
        await asyncio.wait_for(crashing.run(asyncio.Event()), 10)
    assert target.position() == 0
    assert target.dump() == ([], [])
    target._execute = original
    restarted = HistoryProjector(js=pipeline.js, store=target, prefix=pipeline.prefix, batch_size=10)
    info = await pipeline.js.stream_info(pipeline.stream)
    await asyncio.wait_for(restarted.run(asyncio.Event(), until_seq=info.state.last_seq), 10)
    assert target.dump() == expected


async def test_an_api_process_without_the_projection_is_released_by_the_projectors_notice(
    pipeline: Pipeline, common_settings: CommonSettings, make_token: TokenFactory, nats_url: str
) -> None:
    # Polling every 10 s: an answer within a second can only come from the notice over NATS.
    elsewhere = ViewWaiter(poll_interval=10.0)
    nc = await nats.connect(nats_url)
    subscription = await follow_applied(nc, pipeline.prefix, elsewhere)
    try:
        async with history_client(pipeline, common_settings, elsewhere) as http:
            (ticket_id,) = await asyncio.to_thread(write_tickets, pipeline.app, 1)
            started = asyncio.get_running_loop().time()
            r = await http.get(
                f"/api/v1/tickets/{ticket_id}", params={"min_version": 3}, headers=auth(make_token())
            )
            assert r.headers[CONSISTENT_HEADER] == "true"
            assert r.json()["version"] == 3
            assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        await subscription.unsubscribe()
        await nc.close()


async def test_the_rebuild_command_replays_the_stream_into_the_configured_history_store(
    pipeline: Pipeline, common_settings: CommonSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.to_thread(write_tickets, pipeline.app, 4)
    await caught_up(pipeline)
    settings = TicketsSettings(common=common_settings.model_copy(update={"nats_prefix": pipeline.prefix}))
    parser = argparse.ArgumentParser(prog="helpdesk")
    add_cli_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rebuild", "history"])
    assert args.func.__name__ == "_cmd_rebuild_history"
    end = await rebuild_history(settings, progress=True)
    info = await pipeline.js.stream_info(pipeline.stream)
    assert end == info.state.last_seq
    rebuilt = open_history_store(settings)
    try:
        assert rebuilt.dump()[0] == pipeline.store.dump()[0]
        assert rebuilt.position() == end
    finally:
        rebuilt.close()
    assert "history" in capsys.readouterr().err  # the progress bar
