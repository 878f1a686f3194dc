"""The hub's rounds on a real nats-server: a round with nothing changed visits no session unless a wait
or a grace period ran out, and the chat app runs with the start-up objects out of the cyclic GC's
reach."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest

from chat.adapters.support_hours import SupportHours
from chat.application.agent_connection import AgentConnection
from chat.application.context import HubConfig
from chat.application.hub import ChatHub
from chat.application.user_session import UserSession
from chat.bootstrap import create_app, load_settings
from chat.domain.intake import IntakeLimits, make_intake
from chat.domain.server_frames import ServerFrame
from shared.auth import Principal, Role
from shared.collector import THRESHOLDS as GC_THRESHOLDS
from shared.settings import CommonSettings
from tests.integration.chat.test_chat_support_hours import chat_hub
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

MAX_WAIT = 60.0
GRACE = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingSessions(dict[str, UserSession]):
    """The desk's sessions, counting the walks over them."""

    walks = 0

    def values(self) -> Any:
        self.walks += 1
        return super().values()


class Frames:
    def __init__(self) -> None:
        self.types: list[str] = []

    async def send(self, frame: ServerFrame) -> None:
        self.types.append(str(frame.wire()["type"]))


async def close(code: int, reason: str) -> None:
    return None


@asynccontextmanager
async def hub_with_specialist(
    nats_url: str, prefix: str, *, auto: bool
) -> AsyncIterator[tuple[ChatHub, AgentConnection, Clock]]:
    """A hub whose loop ticks far apart (the rounds a test looks at are the ones it runs itself), with
    one specialist available for one chat (`auto`: routed to; else online but taking by hand)."""
    nc = await nats.connect(nats_url)
    clock = Clock()
    config = HubConfig(tick_seconds=10, max_wait_seconds=MAX_WAIT, agent_grace_seconds=GRACE)
    try:
        async with chat_hub(nc, prefix, hours=SupportHours(None), clock=clock, config=config) as hub:
            agent = await hub.agents.connect(
                Principal(sub="a", role=Role.AGENT, name="A"), send=Frames().send, close=close
            )
            await hub.agents.set_available(agent, capacity=1, auto=auto)
            yield hub, agent, clock
    finally:
        await nc.close()


async def open_chat(hub: ChatHub, n: int) -> tuple[UserSession, Frames]:
    frames = Frames()
    principal = Principal(sub=f"user-{n}", role=Role.USER, account_id=f"hotel-{n}", name="Guest")
    intake = make_intake(name="Guest", phone="+380 44 123 45 67", question="Help", limits=IntakeLimits())
    session = await hub.users.open(principal, intake, token="t", send=frames.send)
    assert session is not None
    return session, frames


async def walked_once(hub: ChatHub) -> CountingSessions:
    """After a round that walks every session, the desk's sessions counting the walks from then on."""
    await hub.users.check(changed=True)
    sessions = CountingSessions(hub.users.sessions)
    hub.users.sessions = sessions
    return sessions


async def test_a_round_without_a_change_visits_no_session_until_a_wait_runs_out(
    nats_url: str, nats_prefix: str
) -> None:
    async with hub_with_specialist(nats_url, nats_prefix, auto=False) as (hub, _, clock):
        session, frames = await open_chat(hub, 1)
        sessions = await walked_once(hub)

        clock.now += MAX_WAIT - 1
        await hub.users.check(changed=False)
        assert sessions.walks == 0
        assert "no_specialist" not in frames.types

        clock.now += 1  # the wait ran out: due with nothing changed
        await hub.users.check(changed=False)
        assert sessions.walks == 1
        assert session.state.offered
        assert "no_specialist" in frames.types

        clock.now += 3600  # offered once: nothing is due any more
        await hub.users.check(changed=False)
        assert sessions.walks == 1

        await hub.users.check(changed=True)  # a change: every session is looked at again
        assert sessions.walks == 2


async def test_a_specialist_gone_past_the_grace_period_is_noticed_without_a_change(
    nats_url: str, nats_prefix: str
) -> None:
    async with hub_with_specialist(nats_url, nats_prefix, auto=True) as (hub, agent, clock):
        session, _ = await open_chat(hub, 1)
        await eventually(lambda: session.phase.value == "assigned", timeout=5)
        sessions = await walked_once(hub)
        clock.now += 3600  # a specialist connected: nothing ever comes due by itself
        await hub.users.check(changed=False)
        assert sessions.walks == 0

        await hub.agents.disconnect(agent)
        await eventually(lambda: not hub.ctx.directory.agents[agent.akey].value.connected, timeout=5)
        await hub.users.check(changed=True)  # the disconnect is a change; within the grace period
        assert session.phase.value == "assigned"
        clock.now += GRACE - 1
        await hub.users.check(changed=False)
        assert sessions.walks == 1

        clock.now += 1
        await hub.users.check(changed=False)
        assert sessions.walks == 2
        assert session.phase.value == "waiting"  # back in the queue


async def test_the_chat_app_runs_with_start_up_frozen_and_rarer_collections(
    common_settings: CommonSettings, nats_prefix: str
) -> None:
    before = gc.get_threshold()
    settings = load_settings(common=common_settings.model_copy(update={"nats_prefix": nats_prefix}))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000  # the modules, the app, the connections
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_a_round_while_a_chat_is_being_queued_tells_its_position_only_after_queued(
    nats_url: str, nats_prefix: str
) -> None:
    """The queue entry is seen by the directory while `open` is still writing it: a round then
    (`update_positions`) must not send the user a "position" before their "queued"."""
    async with hub_with_specialist(nats_url, nats_prefix, auto=False) as (hub, _agent, _clock):
        directory = hub.ctx.directory
        put_queue = directory.put_queue
        rounds = 0

        async def put_then_a_round(entry: Any, **kwargs: Any) -> Any:
            nonlocal rounds
            written = await put_queue(entry, **kwargs)
            await eventually(lambda: entry.sid in directory.queue)
            await hub.users.update_positions()  # a round of the hub's loop, before "queued" is sent
            rounds += 1
            return written

        directory.put_queue = put_then_a_round  # type: ignore[method-assign]
        session, frames = await open_chat(hub, 1)
        assert rounds == 1
        assert frames.types[0] == "queued", frames.types
        await hub.users.update_positions()  # from now on a round tells a change of place as before
        assert "position" not in frames.types  # still first in the queue: nothing to tell
        await hub.users.close(session)
