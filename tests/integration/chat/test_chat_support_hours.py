"""Chat follows the support directory on a real nats-server: the tickets service (SQLite and PostgreSQL)
publishes an admin's change once, chat's copy follows it without a restart, a chat outside its topic's
hours is offered a request instead of a queue, and a topic's chat goes to its team first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from chat.adapters.directory import Directory, bucket_name, ensure_bucket
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher
from chat.adapters.support_hours import SupportHours
from chat.application.context import HubConfig
from chat.application.hub import ChatHub
from chat.domain.intake import IntakeLimits, make_intake
from chat.domain.server_frames import ServerFrame
from shared.auth import Principal, Role
from shared.contracts.subjects import DIRECTORY_STREAM
from shared.directory import DirectoryView
from tests.conftest import auth
from tests.support.wait import eventually
from tickets.application.directory import default_document
from tickets.bootstrap import create_app, migrate
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.integration

KYIV = ZoneInfo("Europe/Kyiv")
SATURDAY_NOON = datetime(2026, 3, 28, 12, 0, tzinfo=KYIV)


@dataclass
class Frames:
    """What one side of a chat was sent."""

    items: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, frame: ServerFrame) -> None:
        self.items.append(frame.wire())

    def types(self) -> list[str]:
        return [f["type"] for f in self.items]

    def first(self, kind: str) -> dict[str, Any]:
        return next(f for f in self.items if f["type"] == kind)


@asynccontextmanager
async def chat_hub(
    nc: NATS,
    prefix: str,
    *,
    hours: SupportHours,
    clock: Callable[[], float],
    config: HubConfig | None = None,
) -> AsyncIterator[ChatHub]:
    kv = await ensure_bucket(nc, name=bucket_name(prefix, "CHAT"), ttl_seconds=30)
    hub = ChatHub(
        directory=Directory(kv),
        relay=Relay(nc, prefix=prefix),
        stats=StatsPublisher(None, prefix=prefix),
        tickets=None,
        config=config or HubConfig(tick_seconds=0.05, queue_update_seconds=0.05),
        clock=clock,
        hours=hours,
    )
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def user(n: int) -> Principal:
    return Principal(sub=f"u{n}", role=Role.USER, account_id=f"hotel-{n}", name=f"User {n}")


async def open_chat(hub: ChatHub, n: int, topic: str) -> tuple[Any, Frames]:
    frames = Frames()
    intake = make_intake(name="Olena", phone="+380441234567", question="BSO forms", limits=IntakeLimits())
    session = await hub.users.open(user(n), intake, token="t", send=frames.send, topic=topic)
    return session, frames


async def test_an_admins_change_is_published_once_and_chat_and_due_times_follow_it_without_a_restart(
    tickets_settings: TicketsSettings, make_token: Callable[..., str], nats_url: str
) -> None:
    settings = tickets_settings.model_copy(update={"run_relay": True})
    prefix = settings.common.nats_prefix
    await migrate(settings)
    app = create_app(settings)
    app.state.clock = lambda: SATURDAY_NOON
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = DIRECTORY_STREAM.stream_name(prefix)
    admin = auth(make_token(role="admin", account=None, sub="boss"))
    hours = SupportHours(js, prefix=prefix)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://tickets.test", timeout=20) as client,
                chat_hub(nc, prefix, hours=hours, clock=SATURDAY_NOON.timestamp) as hub,
            ):
                await eventually(lambda: hours.view is not None and hours.view.version == 1, timeout=10)

                # Saturday: additional services are closed; the user gets a request offer, no queue.
                session, frames = await open_chat(hub, 1, "services")
                assert session is None
                assert frames.types() == ["outside_hours"]
                offer = frames.first("outside_hours")
                assert datetime.fromisoformat(offer["opens_at"]) == datetime(2026, 3, 30, 9, 0, tzinfo=KYIV)
                assert offer["draft"]["topic"] == "services"
                assert not hub.ctx.directory.queue

                weekend = {
                    "id": "services-hours",
                    "time_zone": "Europe/Kyiv",
                    "weekly": [{"day": "sat", "start": "10:00", "end": "14:00"}],
                }
                response = await client.put(
                    "/api/v1/support/directory/calendars/services-hours",
                    json=weekend,
                    headers={**admin, "If-Match": '"1"'},
                )
                assert response.status_code == 200, response.text
                await eventually(lambda: hours.view is not None and hours.view.version == 2, timeout=10)
                info = await js.stream_info(stream)
                assert info.state.messages == 2  # the seed and the one change: published once

                session, frames = await open_chat(hub, 2, "services")
                assert session is not None
                assert frames.types()[0] == "queued"
                assert session.team == "services"

                data = {
                    "topic": "services",
                    "comment": "BSO",
                    "message": "BSO forms",
                    "importance": "critical",
                }
                created = await client.post("/api/v1/tickets", data=data, headers=auth(make_token()))
                assert created.status_code == 201, created.text
                due = datetime.fromisoformat(created.json()["first_response_due"])
                assert due == datetime(2026, 3, 28, 13, 0, tzinfo=KYIV)
            info = await js.stream_info(stream)
            assert info.state.messages == 2
    finally:
        await nc.close()


async def test_a_topics_chat_goes_to_its_team_first_then_to_anyone_free(
    nats_url: str, nats_prefix: str
) -> None:
    nc = await nats.connect(nats_url)
    hours = SupportHours(None)
    hours.apply(DirectoryView.from_json(default_document(), version=1))
    try:
        async with chat_hub(nc, nats_prefix, hours=hours, clock=SATURDAY_NOON.timestamp) as hub:
            general, billing = Frames(), Frames()

            async def close(code: int, reason: str) -> None:
                return None

            agents = {}
            for sub, frames, teams in (("gen", general, ("general",)), ("bill", billing, ("billing",))):
                principal = Principal(sub=sub, role=Role.AGENT, name=sub)
                agents[sub] = await hub.agents.connect(principal, send=frames.send, close=close)
                await hub.agents.set_available(agents[sub], capacity=1, teams=teams)

            # Both are free: the payments chat (billing's topic) goes to billing, not to general.
            first, _ = await open_chat(hub, 1, "payments")
            await eventually(lambda: "chat_assigned" in billing.types(), timeout=5)
            assert billing.first("chat_assigned")["session"] == first.sid
            assert "chat_assigned" not in general.types()
            assert [f for f in billing.items if f["type"] == "status"][-1]["teams"] == ["billing"]

            # Billing is full now: the next payments chat goes to anyone free.
            second, _ = await open_chat(hub, 2, "payments")
            await eventually(lambda: "chat_assigned" in general.types(), timeout=5)
            assert general.first("chat_assigned")["session"] == second.sid
    finally:
        await nc.close()


async def test_without_the_team_fallback_a_chat_waits_for_its_team(nats_url: str, nats_prefix: str) -> None:
    nc = await nats.connect(nats_url)
    hours = SupportHours(None)
    hours.apply(DirectoryView.from_json(default_document(), version=1))
    try:
        kv = await ensure_bucket(nc, name=bucket_name(nats_prefix, "CHAT"), ttl_seconds=30)
        hub = ChatHub(
            directory=Directory(kv),
            relay=Relay(nc, prefix=nats_prefix),
            stats=StatsPublisher(None, prefix=nats_prefix),
            tickets=None,
            config=HubConfig(tick_seconds=0.05, any_team_fallback=False),
            clock=SATURDAY_NOON.timestamp,
            hours=hours,
        )
        await hub.start()
        try:
            general = Frames()

            async def close(code: int, reason: str) -> None:
                return None

            agent = await hub.agents.connect(
                Principal(sub="gen", role=Role.AGENT, name="gen"), send=general.send, close=close
            )
            await hub.agents.set_available(agent, capacity=2, teams=("general",))
            waiting, _ = await open_chat(hub, 1, "payments")
            other, _ = await open_chat(hub, 2, "reports")
            await eventually(lambda: "chat_assigned" in general.types(), timeout=5)
            assert general.first("chat_assigned")["session"] == other.sid
            await hub.step()
            assert hub.ctx.directory.queue[waiting.sid].value.state.value == "waiting"
        finally:
            await hub.stop()
    finally:
        await nc.close()


async def test_an_unknown_topic_is_refused_when_the_directory_is_known(
    nats_url: str, nats_prefix: str
) -> None:
    nc = await nats.connect(nats_url)
    hours = SupportHours(None)
    hours.apply(DirectoryView.from_json(default_document(), version=1))
    try:
        async with chat_hub(nc, nats_prefix, hours=hours, clock=SATURDAY_NOON.timestamp) as hub:
            from chat.domain.errors import InvalidIntake

            with pytest.raises(InvalidIntake) as error:
                await open_chat(hub, 1, "astrology")
            assert error.value.field == "topic"
            assert not hub.ctx.directory.queue
    finally:
        await nc.close()


async def test_an_older_or_repeated_directory_changes_nothing() -> None:
    hours = SupportHours(None)
    newer = DirectoryView.from_json(default_document(), version=3)
    assert hours.apply(newer)
    assert not hours.apply(DirectoryView.from_json(default_document(), version=2))
    assert not hours.apply(DirectoryView.from_json(default_document(), version=3))
    assert hours.view is newer
    await asyncio.sleep(0)
