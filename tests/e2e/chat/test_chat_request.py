"""No specialist online (or waiting too long): the question can become a request, on request only."""

from __future__ import annotations

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory, FakeTickets
from tests.support.chat import WsClient, available_agent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_with_nobody_online_the_user_is_offered_a_prefilled_request_and_can_send_it(
    chat_cluster: ClusterFactory, make_token: TokenFactory, fake_tickets: FakeTickets
) -> None:
    async with chat_cluster(HELPDESK_CHAT_TICKETS_URL=fake_tickets.url) as cluster:
        token = make_token(sub="alone", account="hotel-b")
        user = await WsClient.connect(cluster.a.ws("user"), token)
        await user.send(type="start", name="Ivan", phone="+380441234567", question="Night audit fails")
        queued = await user.expect("queued")
        assert queued["specialists_online"] == 0
        offer = await user.expect("no_specialist")
        assert offer["reason"] == "no_specialist_online"
        assert offer["draft"]["comment"] == "Night audit fails"
        assert offer["draft"]["topic"] == "chat"
        assert fake_tickets.received == [], "nothing is sent without the user asking"

        await user.send(type="create_request", importance="high")
        created = await user.expect("request_created")
        assert created["number"] == "HD-000001"
        [request] = fake_tickets.received
        assert request["path"] == "/api/v1/tickets"
        assert request["headers"]["Authorization"] == f"Bearer {token}"
        assert request["headers"]["Content-Type"].startswith("multipart/form-data")
        body = request["body"].decode()
        for field in ("topic", "comment", "message", "importance"):
            assert f'name="{field}"' in body
        assert "Night audit fails" in body
        assert "high" in body
        assert "+380441234567" not in body

        fake_tickets.status = 503
        await user.send(type="create_request")
        assert (await user.expect("error"))["code"] == "tickets_unavailable"
        await user.close()


async def test_a_user_waiting_longer_than_the_limit_is_offered_a_request_while_keeping_their_place(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster(HELPDESK_CHAT_MAX_WAIT_SECONDS="1") as cluster:
        agent = await available_agent(
            cluster.b.ws("agent"), make_token(role="agent", sub="ag-busy"), capacity=1
        )
        busy = await WsClient.connect(cluster.a.ws("user"), make_token(sub="first"))
        await busy.send(type="start", name="A", phone="+380441234567", question="one")
        await busy.expect("assigned")
        waiting = await WsClient.connect(cluster.a.ws("user"), make_token(sub="second"))
        await waiting.send(type="start", name="B", phone="+380441234567", question="two")
        queued = await waiting.expect("queued")
        assert queued["specialists_online"] == 1
        offer = await waiting.expect("no_specialist", timeout=5)
        assert offer["reason"] == "wait_exceeded"
        await busy.close()
        await waiting.expect("assigned")
        for client in (waiting, agent):
            await client.close()
