"""A chat leaves nothing behind: no text, question or phone number in NATS's store, the logs or any file."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import nats
import pytest

from shared.contracts.chat import parse_chat_event
from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n.decode()}" for n in needles if n in data]
    return found


async def test_message_text_and_the_phone_number_are_nowhere_on_disk_in_nats_or_in_the_logs(
    chat_cluster: ClusterFactory, make_token: TokenFactory, tmp_path: Path
) -> None:
    marker = f"MARKER{uuid.uuid4().hex}"
    phone_typed, phone_e164 = "067 555 12 34", "+380675551234"
    async with chat_cluster() as cluster:
        # A specialist watching the queue first: the name and question cross to their process too.
        agent = await WsClient.connect(cluster.a.ws("agent"), make_token(role="agent", sub="ag-p"))
        await agent.expect("status")
        user = await WsClient.connect(cluster.b.ws("user"), make_token(sub="private"))
        await user.send(type="start", name=f"Name {marker}", phone=phone_typed, question=f"Q {marker}")
        sid = (await user.expect("queued"))["session"]
        [waiting] = await agent.queue_where(lambda entries: [e["session"] for e in entries] == [sid])
        assert waiting["question"] == f"Q {marker}"
        assert waiting["name"] == f"Name {marker}"
        assert phone_e164 not in json.dumps(waiting)
        await agent.send(type="available", capacity=1)
        offered = await agent.expect("chat_assigned", session=sid)
        assert offered["phone"] == phone_e164
        await user.expect("assigned")
        for i in range(5):
            await user.send(type="message", text=f"user {marker} {i} call me at {phone_typed}")
            await agent.expect("message", session=sid)
            await agent.send(type="message", session=sid, text=f"agent {marker} {i}")
            await user.expect("message")
        # A bad frame that echoes nothing back into the logs either.
        await user.send(type="message", text=marker * 1000)
        assert (await user.expect("error"))["code"] in {"frame_too_large", "bad_frame"}
        await agent.send(type="end", session=sid)
        await user.expect("ended")
        await user.close()
        await agent.close()

        # Statistics did reach JetStream (so there was something to look at), without content.
        nc = await nats.connect(cluster.nats.url)
        try:
            js = nc.jetstream()
            stream = f"{cluster.settings.common.nats_prefix.upper()}_CHAT_STATS"
            for _ in range(50):
                if (await js.stream_info(stream)).state.messages >= 3:
                    break
                await asyncio.sleep(0.1)
            info = await js.stream_info(stream)
            assert info.state.messages >= 3
            sub = await js.subscribe(
                f"{cluster.settings.common.nats_prefix}.helpdesk.chat.v1.>", ordered_consumer=True
            )
            types = []
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                assert marker.encode() not in msg.data
                event = parse_chat_event(msg.data)
                # The statistics are there, field by field, and nothing else: no name, phone or text.
                assert set(json.loads(msg.data)["data"]) == set(type(event.data).model_fields), event.type
                assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == str(event.event_id)
                types.append(event.type)
            assert {"chat.started", "chat.assigned", "chat.ended"} <= set(types)
            kv_status = await (
                await js.key_value(f"{cluster.settings.common.nats_prefix.upper()}_CHAT")
            ).status()
            assert str(kv_status.stream_info.config.storage) in {"memory", "StorageType.MEMORY"}
        finally:
            await nc.close()
    # Both processes have stopped (SIGTERM) and the nats-server is still running: look everywhere.
    cluster.nats.stop()
    logs = cluster.a.log() + cluster.b.log()
    assert "chat_opened" in logs, "the processes did log (DEBUG level), just never the content"
    assert any(p.is_file() for p in (tmp_path / "nats-store").rglob("*")), "nats-server wrote its store"
    # A prefix too: a logger that truncates long values would still leak part of the marker.
    needles = [marker[:16].encode(), phone_e164.encode(), b"675551234", b"067 555 12 34", b"555 12 34"]
    assert files_containing(tmp_path, needles) == []
