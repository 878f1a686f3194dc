"""A whole conversation across two chat processes on a real nats-server."""

from __future__ import annotations

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_a_user_on_one_process_and_a_specialist_on_another_talk_both_ways(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        agent = await WsClient.connect(
            cluster.b.ws("agent"), make_token(role="agent", sub="ag-1", name="Olena")
        )
        status = await agent.expect("status")
        assert status["status"] == "away"
        await agent.send(type="available", capacity=2)
        await agent.expect("status", status="available")

        user = await WsClient.connect(cluster.a.ws("user"), make_token(sub="u-1", account="hotel-a"))
        await user.send(type="start", name="Ivan", phone="044 123 45 67", question="The PMS does not print")
        queued = await user.expect("queued")
        assert queued["specialists_online"] == 1
        assert queued["position"] == 1

        offered = await agent.expect("chat_assigned")
        assert offered["session"] == queued["session"]
        assert offered["name"] == "Ivan"
        assert offered["phone"] == "+380441234567"
        assert offered["question"] == "The PMS does not print"
        assert offered["account_id"] == "hotel-a"
        assigned = await user.expect("assigned")
        assert assigned["specialist"]["name"] == "Olena"
        assert [f["type"] for f in user.seen[:3]] == ["ready", "queued", "assigned"], "queued comes first"

        sid = queued["session"]
        await user.send(type="typing")
        await agent.expect("typing", session=sid)
        await user.send(type="message", text="Hello, can you help?")
        got = await agent.expect("message", session=sid)
        assert got["text"] == "Hello, can you help?"
        await agent.send(type="typing", session=sid)
        await user.expect("typing")
        await agent.send(type="message", session=sid, text="Of course. Which printer?")
        reply = await user.expect("message")
        assert reply == {"type": "message", "from": "specialist", "text": "Of course. Which printer?"}

        await agent.send(type="end", session=sid)
        await agent.expect("chat_ended", session=sid)
        ended = await user.expect("ended")
        assert ended["reason"] == "specialist_ended"
        assert "Of course. Which printer?" in ended["draft"]["message"]
        assert "+380441234567" not in ended["draft"]["message"]
        await user.send(type="message", text="still there?")
        error = await user.expect("error")
        assert error["code"] == "not_assigned"
        await user.close()
        await agent.close()
