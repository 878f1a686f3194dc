"""The chat's WebSocket protocol as AsyncAPI: the checked-in document is what the frame models
generate, it names every frame on its channel, and the service serves it with its docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from pydantic import SecretStr

from chat.bootstrap import create_app
from chat.domain import server_frames
from chat.entrypoints import asyncapi, frames
from chat.settings import ChatSettings
from shared.settings import CommonSettings, Environment

pytestmark = pytest.mark.unit


def test_the_checked_in_asyncapi_document_matches_the_frame_models() -> None:
    assert asyncapi.is_current(), f"{asyncapi.DOCUMENT} is out of date; run `{asyncapi.REGENERATE}`"


def test_a_changed_protocol_is_reported(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.json"
    stale.write_text(asyncapi.render().replace('"queued"', '"enqueued"'))
    assert not asyncapi.is_current(stale)
    assert not asyncapi.is_current(tmp_path / "missing.json")


def _types(union: Any) -> set[str]:
    return {get_args(m.model_fields["type"].annotation)[0] for m in get_args(get_args(union)[0])}


@pytest.mark.parametrize(
    ("channel", "received", "sent"),
    [
        ("user", frames.UserFrame, server_frames.ToUser),
        ("specialist", frames.AgentFrame, server_frames.ToSpecialist),
    ],
)
def test_every_frame_is_a_message_of_its_channel_with_a_schema(
    channel: str, received: Any, sent: Any
) -> None:
    document = json.loads(asyncapi.render())
    assert document["asyncapi"] == "3.0.0"
    messages = document["components"]["messages"]

    def names(action: str) -> set[str]:
        operation = document["operations"][f"{channel}.{action}"]
        assert operation["channel"] == {"$ref": f"#/channels/{channel}"}
        keys = [ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]]
        for key in keys:
            assert key in document["channels"][channel]["messages"]
            schema = messages[key]["payload"]["$ref"].rsplit("/", 1)[1]
            assert (
                document["components"]["schemas"][schema]["properties"]["type"]["const"]
                == messages[key]["name"]
            )
        return {messages[key]["name"] for key in keys}

    assert names("receive") == _types(received) | {"auth"}
    assert names("send") == _types(sent)


async def test_the_service_serves_the_document_without_a_token_and_names_it_in_its_openapi() -> None:
    common = CommonSettings(
        environment=Environment.TEST, jwt_secret=SecretStr("unit-test-secret-" + "x" * 40)
    )
    app = create_app(ChatSettings(common=common))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:
        for path in ("/asyncapi.json", "/docs/asyncapi.json"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.json() == json.loads(asyncapi.render())
        spec = (await client.get("/openapi.json")).json()
    assert "/asyncapi.json" in spec["paths"]
    assert "/api/v1/chat/user" in spec["info"]["description"]
    assert "/api/v1/chat/agent" in spec["info"]["description"]
