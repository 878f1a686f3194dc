"""Queue order, positions, capacity under a race, a specialist leaving, a user closing."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient, available_agent, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_users_are_served_in_arrival_order_and_see_their_position_move(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        agent = await WsClient.connect(cluster.a.ws("agent"), make_token(role="agent", sub="ag-q"))
        await agent.expect("status")
        users: list[tuple[WsClient, str]] = []
        for i in range(3):
            process = cluster.a if i % 2 == 0 else cluster.b
            user, sid = await open_chat(process.ws("user"), make_token(sub=f"u-{i}"))
            users.append((user, sid))
        # Everyone learns their place; the last to arrive is third.
        assert users[0][0].seen[1]["position"] == 1
        assert users[2][0].seen[1]["position"] == 3
        assert users[0][0].seen[1]["specialists_online"] == 0
        await users[0][0].expect("no_specialist", reason="no_specialist_online")

        await agent.send(type="available", capacity=1)
        first = await agent.expect("chat_assigned")
        assert first["session"] == users[0][1]
        await users[0][0].expect("assigned")
        await users[1][0].expect("position", position=1)
        await users[2][0].expect("position", position=2)

        await agent.send(type="end", session=users[0][1])
        second = await agent.expect("chat_assigned")
        assert second["session"] == users[1][1]
        await users[2][0].expect("position", position=1)
        for user, _ in users:
            await user.close()
        await agent.close()


async def test_twenty_users_racing_for_two_specialists_never_exceed_capacity(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        agents = []
        for name, process in (("ag-x", cluster.a), ("ag-y", cluster.b)):
            agent = await available_agent(process.ws("agent"), make_token(role="agent", sub=name), capacity=3)
            agents.append(agent)

        opened = await asyncio.gather(
            *(
                open_chat((cluster.a if i % 2 else cluster.b).ws("user"), make_token(sub=f"racer-{i}"))
                for i in range(20)
            )
        )
        sessions = {sid for _, sid in opened}
        assert len(sessions) == 20

        held: list[list[str]] = []
        for agent in agents:
            got = [str((await agent.expect("chat_assigned", timeout=15))["session"]) for _ in range(3)]
            await agent.silent("chat_assigned", 1.5)
            held.append(got)
        assert len(set(held[0]) | set(held[1])) == 6, "no user goes to two specialists"
        assert not set(held[0]) & set(held[1])

        assigned = [u for u, sid in opened if sid in set(held[0]) | set(held[1])]
        for user in assigned:
            await user.expect("assigned")
        waiting = [(u, sid) for u, sid in opened if sid not in set(held[0]) | set(held[1])]
        # The 14 others hold the places 1..14, each once.
        await asyncio.sleep(0.5)
        await asyncio.gather(*(user.drain() for user, _ in waiting))
        places = [user.last("queued", "position")["position"] for user, _ in waiting]
        assert sorted(places) == list(range(1, 15))

        # The KV bucket agrees: two specialists, three chats each.
        nc = await nats.connect(cluster.nats.url)
        try:
            kv = await nc.jetstream().key_value(f"{cluster.settings.common.nats_prefix.upper()}_CHAT")
            for key in await kv.keys():
                if key.startswith("a."):
                    entry = await kv.get(key)
                    assert entry.value is not None
                    assert len(json.loads(entry.value)["sessions"]) == 3
        finally:
            await nc.close()
        for user, _ in opened:
            await user.close()
        for agent in agents:
            await agent.close()


async def test_a_specialist_who_disconnects_has_their_users_put_back_at_the_head_of_the_queue(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        leaving = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-leaves"), capacity=2
        )
        first, first_sid = await open_chat(cluster.b.ws("user"), make_token(sub="early-1"))
        await leaving.expect("chat_assigned", session=first_sid)
        second, second_sid = await open_chat(cluster.a.ws("user"), make_token(sub="early-2"))
        await leaving.expect("chat_assigned", session=second_sid)
        late, late_sid = await open_chat(cluster.b.ws("user"), make_token(sub="late"))

        await leaving.close()  # grace period: 1 s
        await first.expect("specialist_left", requeued=True)
        await second.expect("specialist_left", requeued=True)
        await late.expect("position", position=3)

        other = await available_agent(
            cluster.b.ws("agent"), make_token(role="agent", sub="ag-stays"), capacity=3
        )
        order = [str((await other.expect("chat_assigned"))["session"]) for _ in range(3)]
        assert order == [first_sid, second_sid, late_sid]
        await first.expect("assigned")

        # The specialist who left comes back: away, holding nothing.
        back = await WsClient.connect(cluster.a.ws("agent"), make_token(role="agent", sub="ag-leaves"))
        status = await back.expect("status")
        assert status["status"] == "away"
        assert status["sessions"] == []
        for client in (first, second, late, other, back):
            await client.close()


async def test_a_specialist_who_reloads_within_the_grace_period_keeps_their_chats(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_AGENT_GRACE_SECONDS="5") as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-reload"), capacity=1
        )
        user, sid = await open_chat(cluster.a.ws("user"), make_token(sub="patient"))
        await agent.expect("chat_assigned", session=sid)
        await agent.close()

        again = await WsClient.connect(cluster.b.ws("agent"), make_token(role="agent", sub="ag-reload"))
        status = await again.expect("status")
        assert status["sessions"] == [sid]
        resumed = await again.expect("chat_assigned", session=sid)
        assert resumed["phone"] == "+380441234567"
        await user.send(type="message", text="are you back?")
        assert (await again.expect("message", session=sid))["text"] == "are you back?"
        await user.silent("specialist_left", 1.0)
        await user.close()
        await again.close()


async def test_when_the_user_closes_the_window_the_specialist_is_told_and_the_session_is_gone(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        agent = await available_agent(cluster.a.ws("agent"), make_token(role="agent", sub="ag-c"), capacity=1)
        user, sid = await open_chat(cluster.b.ws("user"), make_token(sub="closer"))
        await agent.expect("chat_assigned", session=sid)
        await user.close()
        await agent.expect("user_left", session=sid)
        await agent.send(type="message", session=sid, text="hello?")
        assert (await agent.expect("error"))["code"] == "not_assigned"

        nc = await nats.connect(cluster.nats.url)
        try:
            kv = await nc.jetstream().key_value(f"{cluster.settings.common.nats_prefix.upper()}_CHAT")
            keys = await kv.keys()
            assert f"q.{sid}" not in keys
        except nats.js.errors.NoKeysError:
            pass
        finally:
            await nc.close()
        # The freed slot serves the next user at once.
        nxt, nxt_sid = await open_chat(cluster.a.ws("user"), make_token(sub="next"))
        await agent.expect("chat_assigned", session=nxt_sid)
        await nxt.close()
        await agent.close()
