"""The specialist hears `user_left` exactly once per closed session, however the session ends, with
the user and the specialist on the same chat process or on different ones."""

from __future__ import annotations

import pytest

from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient, available_agent, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROUNDS = 4


async def _assigned(agent: WsClient, user: WsClient, sid: str) -> None:
    await agent.expect("chat_assigned", session=sid)
    await user.expect("assigned")


def _count(agent: WsClient, kind: str, sid: str) -> int:
    return sum(1 for f in agent.seen if f.get("type") == kind and f.get("session") == sid)


@pytest.mark.parametrize("ending", ["user_closes", "user_disconnects", "specialist_ends"])
async def test_a_closed_session_is_announced_to_its_specialist_once(
    chat_cluster: ClusterFactory, make_token: TokenFactory, ending: str
) -> None:
    async with chat_cluster() as cluster:
        agent = await available_agent(
            cluster.a.ws("agent"), make_token(role="agent", sub=f"ag-{ending}"), capacity=ROUNDS * 2
        )
        ended: list[str] = []
        for i in range(ROUNDS * 2):
            process = cluster.a if i % 2 else cluster.b
            user, sid = await open_chat(process.ws("user"), make_token(sub=f"{ending}-{i}"))
            await _assigned(agent, user, sid)
            if ending == "user_closes":
                await user.close()
                await agent.expect("user_left", session=sid)
            elif ending == "user_disconnects":
                user.conn.transport.abort()  # no close frame: the server notices the dropped socket
                await agent.expect("user_left", session=sid)
            else:
                await agent.send(type="end", session=sid)
                await agent.expect("chat_ended", session=sid)
                await user.expect("ended", reason="specialist_ended")
                await user.close()
            ended.append(sid)
        # Any second announcement would come from the relay or the next reconcile round (0.2 s).
        await agent.silent("no-such-frame", 1.5)
        for sid in ended:
            expected = 0 if ending == "specialist_ends" else 1
            assert _count(agent, "user_left", sid) == expected, agent.seen
            assert _count(agent, "chat_ended", sid) == (1 if ending == "specialist_ends" else 0)
        await agent.close()
