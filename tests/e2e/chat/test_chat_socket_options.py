"""The chat service's WebSocket options as a browser meets them: no per-message compression (a
browser always offers it; it would nearly double a socket's memory for short frames), and the
server's own keepalive ping rarer than uvicorn's default, the clients pinging every 25 s themselves."""

from __future__ import annotations

import pytest
import websockets

from chat.settings import ChatSettings
from shared.settings import ServiceSettings
from tests.conftest import TokenFactory
from tests.e2e.chat.conftest import ClusterFactory
from tests.support.chat import WsClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_a_socket_offering_compression_gets_none_and_the_chat_works(
    chat_cluster: ClusterFactory, make_token: TokenFactory
) -> None:
    async with chat_cluster() as cluster:
        async with websockets.connect(cluster.a.ws("user"), compression="deflate", open_timeout=10) as raw:
            assert raw.request is not None and raw.response is not None
            assert "permessage-deflate" in raw.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in raw.response.headers
        user = await WsClient.connect(cluster.a.ws("user"), make_token(sub="deflate-offer"))
        await user.send(type="ping")
        await user.expect("pong")
        await user.close()


def test_chat_pings_rarer_than_the_services_default_and_never_compresses() -> None:
    chat, default = ChatSettings(), ServiceSettings()
    assert (chat.ws_per_message_deflate, default.ws_per_message_deflate) == (False, True)
    assert chat.ws_ping_interval_seconds > 25 > default.ws_ping_interval_seconds
