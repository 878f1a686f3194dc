"""The support console's side of the specialist protocol: the waiting queue, taking a chat by hand,
and offering the user to turn the chat into a request."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory, FakeTickets
from tests.support.chat import PHONE, WsClient, available_agent, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sessions(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e["session"]) for e in entries]


async def watching_agent(url: str, token: str) -> WsClient:
    """A specialist who is connected (away) and has had the queue as it stood."""
    agent = await WsClient.connect(url, token)
    await agent.expect("status")
    await agent.expect("queue")
    return agent


async def test_specialists_see_who_waits_with_their_question_and_account_in_serving_order(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        watcher = await WsClient.connect(cluster.a.ws("agent"), make_token(role="agent", sub="ag-watch"))
        await watcher.expect("status")
        assert (await watcher.expect("queue"))["entries"] == []
        assert [f["type"] for f in watcher.seen[:3]] == ["ready", "status", "queue"]

        first, first_sid = await open_chat(
            cluster.b.ws("user"),
            make_token(sub="w-1", account="hotel-a"),
            name="Ivan",
            question="Night audit fails",
        )
        entries = await watcher.queue_where(lambda e: sessions(e) == [first_sid])
        [entry] = entries
        assert entry["account_id"] == "hotel-a"
        assert entry["name"] == "Ivan"
        assert entry["question"] == "Night audit fails"
        assert entry["position"] == 1
        assert datetime.fromisoformat(entry["waiting_since"]).utcoffset() is not None
        assert set(entry) == {"session", "waiting_since", "account_id", "name", "question", "position"}
        assert "+380441234567" not in json.dumps(entries), "the phone comes only with chat_assigned"

        second, second_sid = await open_chat(
            cluster.a.ws("user"), make_token(sub="w-2", account="hotel-b"), question="Keys do not open"
        )
        entries = await watcher.queue_where(lambda e: sessions(e) == [first_sid, second_sid])
        assert [e["position"] for e in entries] == [1, 2]
        assert [e["account_id"] for e in entries] == ["hotel-a", "hotel-b"]
        assert entries[1]["question"] == "Keys do not open"
        assert entries[0]["waiting_since"] <= entries[1]["waiting_since"]

        # A specialist connecting now gets the queue at once, on the other process.
        late = await WsClient.connect(cluster.b.ws("agent"), make_token(role="agent", sub="ag-late"))
        await late.expect("status")
        shown = (await late.expect("queue"))["entries"]
        assert sessions(shown) == [first_sid, second_sid]
        assert shown[0]["question"] == "Night audit fails"

        await first.close()
        for agent in (watcher, late):
            entries = await agent.queue_where(lambda e: sessions(e) == [second_sid])
            assert entries[0]["position"] == 1
        for client in (second, watcher, late):
            await client.close()


async def test_a_manual_specialist_is_not_routed_to_and_takes_the_user_they_pick(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        manual = await available_agent(
            cluster.a.ws("agent"),
            make_token(role="agent", sub="ag-hand", name="Olena"),
            capacity=2,
            auto=False,
        )
        first, first_sid = await open_chat(cluster.b.ws("user"), make_token(sub="pick-1"), question="one")
        second, second_sid = await open_chat(
            cluster.b.ws("user"), make_token(sub="pick-2", account="hotel-b"), question="two"
        )
        assert first.seen[1]["specialists_online"] == 1, "a manual specialist is online"
        await manual.queue_where(lambda e: sessions(e) == [first_sid, second_sid])
        await manual.silent("chat_assigned", 1.0)
        await first.silent("assigned", 0.1)

        # Not in order: the one they pick.
        await manual.send(type="take", session=second_sid)
        taken = await manual.expect("chat_assigned", session=second_sid)
        assert taken["question"] == "two"
        assert taken["phone"] == "+380441234567"
        assert taken["account_id"] == "hotel-b"
        assigned = await second.expect("assigned")
        assert assigned["specialist"]["name"] == "Olena"
        await manual.queue_where(lambda e: sessions(e) == [first_sid])

        await second.send(type="message", text="Hello?")
        assert (await manual.expect("message", session=second_sid))["text"] == "Hello?"
        await manual.send(type="message", session=second_sid, text="Hi, looking")
        assert (await second.expect("message"))["text"] == "Hi, looking"

        await manual.send(type="take", session=second_sid)
        assert (await manual.expect("error"))["code"] == "already_taken"
        await manual.send(type="take", session="nosuchsession")
        assert (await manual.expect("error"))["code"] == "not_waiting"
        await manual.silent("chat_assigned", 0.5)
        for client in (first, second, manual):
            await client.close()


async def test_two_specialists_taking_the_same_user_at_once_one_gets_them_the_other_is_told(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        agents = [
            await available_agent(
                process.ws("agent"), make_token(role="agent", sub=name), capacity=5, auto=False
            )
            for name, process in (("ag-left", cluster.a), ("ag-right", cluster.b))
        ]
        users = [
            await open_chat((cluster.a if i % 2 else cluster.b).ws("user"), make_token(sub=f"contested-{i}"))
            for i in range(3)
        ]
        for agent in agents:
            await agent.queue_where(lambda e: len(e) == 3)
        for user, sid in users:
            await asyncio.gather(*(agent.send(type="take", session=sid) for agent in agents))
            outcomes = [await agent.first_of("chat_assigned", "error") for agent in agents]
            kinds = sorted(str(o["type"]) for o in outcomes)
            assert kinds == ["chat_assigned", "error"], outcomes
            [refused] = [o for o in outcomes if o["type"] == "error"]
            assert refused["code"] == "already_taken"
            [won] = [o for o in outcomes if o["type"] == "chat_assigned"]
            assert won["session"] == sid
            await user.expect("assigned")
            await user.silent("assigned", 0.3)
        for client in [*agents, *(u for u, _ in users)]:
            await client.close()


async def test_taking_more_chats_than_the_capacity_is_refused_and_the_user_keeps_waiting(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        manual = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-one"), capacity=1, auto=False
        )
        first, first_sid = await open_chat(cluster.b.ws("user"), make_token(sub="cap-1"))
        second, second_sid = await open_chat(cluster.a.ws("user"), make_token(sub="cap-2"))
        await manual.queue_where(lambda e: len(e) == 2)
        await manual.send(type="take", session=first_sid)
        await manual.expect("chat_assigned", session=first_sid)
        await manual.send(type="take", session=second_sid)
        assert (await manual.expect("error"))["code"] == "capacity_exceeded"
        await second.silent("assigned", 0.5)

        # An automatic specialist may take by hand too, within their capacity just the same.
        auto = await available_agent(
            cluster.b.ws("agent"), make_token(role="agent", sub="ag-auto"), capacity=1
        )
        await auto.expect("chat_assigned", session=second_sid)
        third, third_sid = await open_chat(cluster.b.ws("user"), make_token(sub="cap-3"))
        await auto.send(type="take", session=third_sid)
        assert (await auto.expect("error"))["code"] == "capacity_exceeded"

        # Away: nothing to take with.
        await manual.send(type="away")
        await manual.expect("status", status="away")
        await manual.send(type="take", session=third_sid)
        assert (await manual.expect("error"))["code"] == "not_available"
        await third.silent("assigned", 0.3)
        for client in (first, second, third, manual, auto):
            await client.close()


async def test_an_offered_request_is_made_only_when_the_user_asks_and_both_sides_get_its_number(
    chat_cluster: ClusterFactory, make_token: TokenFactory, fake_tickets: FakeTickets
) -> None:
    async with chat_cluster(HELPDESK_CHAT_TICKETS_URL=fake_tickets.url) as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub="ag-offer"), capacity=1
        )
        token = make_token(sub="offered", account="hotel-c")
        user, sid = await open_chat(cluster.b.ws("user"), token, question="Rates not syncing", phone=PHONE)
        await agent.expect("chat_assigned", session=sid)
        await user.expect("assigned")
        await user.send(type="message", text="Channel manager shows old rates")
        await agent.expect("message", session=sid)

        await agent.send(type="offer_request", session=sid)
        assert await user.expect("request_offered") == {"type": "request_offered"}
        assert (await agent.expect("request_offered"))["session"] == sid
        await asyncio.sleep(0.3)
        assert fake_tickets.received == [], "an offer creates nothing"

        await user.send(type="create_request")
        assert (await user.expect("request_created"))["number"] == "HD-000001"
        told = await agent.expect("request_created", session=sid)
        assert told["number"] == "HD-000001"
        [request] = fake_tickets.received
        assert request["headers"]["Authorization"] == f"Bearer {token}", "made in the user's name"
        body = request["body"].decode()
        assert "Rates not syncing" in body
        assert "Channel manager shows old rates" in body

        # On the user's own initiative, the specialist is told as well.
        await user.send(type="create_request", importance="high")
        assert (await user.expect("request_created"))["number"] == "HD-000002"
        assert (await agent.expect("request_created", session=sid))["number"] == "HD-000002"

        await agent.send(type="offer_request", session="notmine")
        assert (await agent.expect("error"))["code"] == "not_assigned"
        assert len(fake_tickets.received) == 2
        await user.close()
        await agent.expect("user_left", session=sid)
        await agent.send(type="offer_request", session=sid)
        assert (await agent.expect("error"))["code"] == "not_assigned"
        await agent.close()
