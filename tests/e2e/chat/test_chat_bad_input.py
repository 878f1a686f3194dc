"""Bad frames get error frames, not a dropped connection; floods are rate limited; abuse is closed."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient, available_agent, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_malformed_oversized_and_unknown_frames_get_error_frames_and_the_chat_goes_on(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_MAX_FRAME_BYTES="4096") as cluster:
        user = await WsClient.connect(cluster.a.ws("user"), make_token(sub="clumsy"))
        cases: list[tuple[str | bytes, str]] = [
            ("{not json", "bad_frame"),
            ("[1, 2, 3]", "bad_frame"),
            ('{"no": "type"}', "bad_frame"),
            (b"\x00\x01binary", "bad_frame"),
            ('{"type": "message", "text": "' + "x" * 5000 + '"}', "frame_too_large"),
            ('{"type": "dance"}', "bad_frame"),
            ('{"type": "message", "text": "before starting"}', "not_assigned"),
            ('{"type": "start", "name": "A", "phone": "12", "question": "q"}', "invalid_intake"),
            ('{"type": "start", "name": "", "phone": "+380441234567", "question": "q"}', "invalid_intake"),
            (
                '{"type": "start", "name": "A", "phone": "+380441234567", "question": "' + "q" * 600 + '"}',
                "invalid_intake",
            ),
        ]
        for raw, code in cases:
            await user.send_raw(raw)
            error = await user.expect("error")
            assert error["code"] == code, raw[:60]
        await user.send(type="start", name="A", phone="+380441234567", question="q")
        await user.expect("queued")
        await user.send(type="message", text="")
        assert (await user.expect("error"))["code"] == "bad_frame"
        await user.send(type="start", name="A", phone="+380441234567", question="q")
        assert (await user.expect("error"))["code"] == "bad_frame"
        await user.send(type="ping")
        await user.expect("pong")
        await user.close()


async def test_flooding_is_rate_limited_with_error_frames_and_sustained_abuse_is_closed(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(
        HELPDESK_CHAT_RATE_PER_SECOND="5", HELPDESK_CHAT_RATE_BURST="10", HELPDESK_CHAT_ABUSE_THRESHOLD="60"
    ) as cluster:
        user = await WsClient.connect(cluster.b.ws("user"), make_token(sub="flooder"))
        for _ in range(40):
            await user.send(type="ping")
        frames = await user.drain(0.5)
        pongs = [f for f in frames if f["type"] == "pong"]
        limited = [f for f in frames if f.get("code") == "rate_limited"]
        assert 9 <= len(pongs) <= 14
        assert len(limited) == 40 - len(pongs)
        await asyncio.sleep(1.0)  # the bucket refills: the connection still works
        await user.send(type="ping")
        await user.expect("pong")

        for _ in range(200):
            await user.send(type="ping")
        assert await user.wait_closed() == 1008


async def test_a_connection_without_a_valid_token_or_of_the_wrong_role_is_refused(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_AUTH_TIMEOUT_SECONDS="1") as cluster:
        anonymous = await WsClient.connect(cluster.a.ws("user"))
        await anonymous.send(type="start", name="A", phone="+380441234567", question="q")
        assert (await anonymous.expect("error"))["code"] == "unauthorized"
        assert await anonymous.wait_closed() == 4401

        forged = await WsClient.connect(cluster.a.ws("user"))
        await forged.send(type="auth", token="not.a.jwt")
        assert (await forged.expect("error"))["code"] == "unauthorized"
        assert await forged.wait_closed() == 4401

        user_as_agent = await WsClient.connect(cluster.a.ws("agent"))
        await user_as_agent.send(type="auth", token=make_token(sub="u"))
        assert (await user_as_agent.expect("error"))["code"] == "forbidden"
        assert await user_as_agent.wait_closed() == 4403

        silent = await WsClient.connect(cluster.b.ws("user"))
        assert await silent.wait_closed(timeout=5) == 4401


async def test_an_idle_chat_is_closed_and_the_specialist_is_told(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_IDLE_TIMEOUT_SECONDS="1.5") as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-idle"), capacity=1
        )
        user, sid = await open_chat(cluster.b.ws("user"), make_token(sub="sleepy"), question="q")
        await agent.expect("chat_assigned", session=sid)
        for _ in range(3):  # the specialist keeps their connection alive
            await asyncio.sleep(0.5)
            await agent.send(type="ping")
        assert (await user.expect("ended"))["reason"] == "idle_timeout"
        assert await user.wait_closed() == 4408
        await agent.expect("user_left", session=sid)
        await agent.close()


async def test_a_frame_beyond_the_protocol_limit_is_abuse_and_closes_the_connection(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        user = await WsClient.connect(cluster.a.ws("user"), make_token(sub="huge"))
        await user.send_raw('{"type": "ping", "pad": "' + "x" * (300 * 1024) + '"}')
        assert await user.wait_closed() == 1009
        # The process is fine: the next user is served.
        other = await WsClient.connect(cluster.a.ws("user"), make_token(sub="after"))
        await other.send(type="ping")
        await other.expect("pong")
        await other.close()
