"""Caps on the chats one user and one hotel account have open at once, held across two chat
processes racing for the last seats; another hotel's place in the queue is not affected."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ChatCluster, ClusterFactory
from tests.support.chat import PHONE, WsClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def start(url: str, token: str) -> tuple[WsClient, dict[str, Any]]:
    """A user who asked to start a chat, with the answer: `queued` or an `error`."""
    user = await WsClient.connect(url, token)
    await user.send(type="start", name="Guest", phone=PHONE, question="Help")
    return user, await user.first_of("queued", "error")


def process(cluster: ChatCluster, i: int) -> str:
    return (cluster.a if i % 2 else cluster.b).ws("user")


async def test_one_user_racing_on_two_processes_gets_only_their_cap_of_chats(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_MAX_CHATS_PER_USER="2") as cluster:
        token = make_token(sub="eager", account="hotel-a")
        opened = await asyncio.gather(*(start(process(cluster, i), token) for i in range(8)))
        queued = [(u, f) for u, f in opened if f["type"] == "queued"]
        refused = [f for _, f in opened if f["type"] == "error"]
        assert len(queued) == 2
        assert len(refused) == 6
        for frame in refused:
            assert frame["code"] == "too_many_chats"
            assert frame["scope"] == "user"
            assert frame["limit"] == 2
            assert frame["message"]
        # A refused connection stays usable; once a chat ends, its seat is free for a new one.
        retry, _ = next((u, f) for u, f in opened if f["type"] == "error")
        await retry.send(type="ping")
        await retry.expect("pong")
        await queued[0][0].close()
        again, answer = await start(cluster.a.ws("user"), token)
        assert answer["type"] == "queued", answer
        for user, _ in opened:
            await user.close()
        await again.close()


async def test_an_account_at_its_cap_refuses_its_users_but_not_another_hotel(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(
        HELPDESK_CHAT_MAX_CHATS_PER_USER="1", HELPDESK_CHAT_MAX_CHATS_PER_ACCOUNT="3"
    ) as cluster:
        opened = await asyncio.gather(
            *(start(process(cluster, i), make_token(sub=f"staff-{i}", account="hotel-a")) for i in range(6))
        )
        answers = [f for _, f in opened]
        assert sum(f["type"] == "queued" for f in answers) == 3
        refused = [f for f in answers if f["type"] == "error"]
        assert [(f["code"], f["scope"], f["limit"]) for f in refused] == [
            ("too_many_chats", "account", 3)
        ] * 3
        other, answer = await start(cluster.b.ws("user"), make_token(sub="guest", account="hotel-b"))
        assert answer["type"] == "queued"
        assert answer["position"] == 4
        for user, _ in opened:
            await user.close()
        await other.close()
