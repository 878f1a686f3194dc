"""A chat process killed outright: its entries expire (TTL) and the other side recovers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
import websockets

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient, available_agent, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.slow]


async def test_when_the_specialists_process_is_killed_their_users_are_requeued_after_the_ttl(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_PRESENCE_TTL_SECONDS="2") as cluster:
        _doomed = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-doomed"), capacity=1
        )
        user, sid = await open_chat(cluster.b.ws("user"), make_token(sub="survivor"), question="q")
        await user.expect("assigned")

        cluster.a.process.kill()
        cluster.a.process.wait()
        await user.expect("specialist_left", timeout=10, requeued=True)

        rescuer = await available_agent(
            cluster.b.ws("agent"), make_token(role="agent", sub="ag-rescue"), capacity=1
        )
        assert (await rescuer.expect("chat_assigned"))["session"] == sid
        await user.expect("assigned")
        await user.close()
        await rescuer.close()


async def test_when_the_users_process_is_killed_the_specialist_is_told_after_the_ttl(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_PRESENCE_TTL_SECONDS="2") as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-alive"), capacity=1
        )
        _user, sid = await open_chat(cluster.b.ws("user"), make_token(sub="doomed"), question="q")
        await agent.expect("chat_assigned", session=sid)

        cluster.b.process.kill()
        cluster.b.process.wait()
        await agent.expect("user_left", timeout=10, session=sid)
        await agent.send(type="message", session=sid, text="hello?")
        assert (await agent.expect("error"))["code"] == "not_assigned"
        await agent.close()


async def until_delivered(
    sender: WsClient, receiver: WsClient, *, frame: dict[str, Any], within: float
) -> None:
    """Send `frame` again and again until the receiver gets a message (NATS may still be reconnecting)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        await sender.send(**frame)
        with contextlib.suppress(TimeoutError):
            await receiver.expect("message", timeout=0.5)
            return
    raise TimeoutError("never delivered")


async def test_after_a_lone_nats_server_restarts_chats_go_on_and_new_users_are_served(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_PRESENCE_TTL_SECONDS="3") as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-calm"), capacity=2
        )
        user, sid = await open_chat(cluster.b.ws("user"), make_token(sub="steady"))
        await agent.expect("chat_assigned", session=sid)
        await user.expect("assigned")

        cluster.nats.stop()  # a memory bucket does not survive this
        cluster.nats.start()

        await until_delivered(user, agent, frame={"type": "message", "text": "still there?"}, within=15)
        await until_delivered(agent, user, frame={"type": "message", "session": sid, "text": "yes"}, within=5)

        # The bucket is rebuilt from what each process holds: a new user gets the second slot.
        deadline = time.monotonic() + 15
        while True:
            try:
                newcomer, new_sid = await open_chat(cluster.a.ws("user"), make_token(sub="newcomer"))
                break
            except (TimeoutError, websockets.ConnectionClosed):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await agent.expect("chat_assigned", timeout=15, session=new_sid)
        await newcomer.expect("assigned")
        await user.silent("specialist_left", 1.0)
        await agent.send(type="message", session=sid, text="first chat unharmed")
        assert (await user.expect("message"))["text"] == "first chat unharmed"
        for client in (user, newcomer, agent):
            await client.close()


async def test_while_nats_is_down_a_new_chat_gets_an_error_frame_and_may_try_again_later(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        user = await WsClient.connect(cluster.a.ws("user"), make_token(sub="unlucky"))
        cluster.nats.stop()
        start = {"type": "start", "name": "A", "phone": "+380441234567", "question": "q"}
        await user.send(**start)
        assert (await user.expect("error", timeout=20))["code"] == "unavailable"
        cluster.nats.start()
        deadline = time.monotonic() + 20
        while True:
            await user.send(**start)
            frame = await user.recv(timeout=20)
            if frame["type"] == "queued":
                break
            assert frame == {"type": "error", "code": "unavailable", "message": frame["message"]}
            assert time.monotonic() < deadline, "never recovered"
            await asyncio.sleep(0.5)
        await user.close()
