"""The JetStream set-up the platform team runs: a 3-node cluster, R3 streams, one node may die."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.errors import Error as NatsError

from shared.contracts.subjects import TICKETS_STREAM
from shared.nats import connect, ensure_stream, stream_config
from shared.natsserver import NatsCluster
from shared.settings import CommonSettings, Environment

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


async def test_an_r3_stream_keeps_every_message_when_one_node_dies(tmp_path: Path) -> None:
    with NatsCluster(base_dir=tmp_path) as cluster:
        common = CommonSettings(environment=Environment.TEST, nats_url=cluster.url)
        nc = await connect(common, name="cluster-test")
        try:
            js = nc.jetstream(timeout=10)
            config = stream_config(TICKETS_STREAM, replicas=3)
            for _ in range(60):  # the meta leader needs a moment after start
                try:
                    await ensure_stream(js, config)
                    break
                except (NatsError, TimeoutError):  # no meta leader / stream leader yet
                    await asyncio.sleep(0.5)
            else:
                raise AssertionError("stream not created")
            for i in range(50):
                await js.publish(
                    "helpdesk.tickets.v1.created", f"{i}".encode(), headers={"Nats-Msg-Id": f"m{i}"}
                )

            cluster.nodes[0].kill()

            for i in range(50, 100):
                for _ in range(40):
                    try:
                        await js.publish(
                            "helpdesk.tickets.v1.created", f"{i}".encode(), headers={"Nats-Msg-Id": f"m{i}"}
                        )
                        break
                    except (NatsError, TimeoutError):  # no meta leader / stream leader yet
                        await asyncio.sleep(0.25)
                else:
                    raise AssertionError(f"publish {i} never succeeded with two of three nodes up")
            info = await js.stream_info(config.name or "")
            assert info.state.messages == 100
        finally:
            await nc.close()
