"""A hostile user against the chat behind the gateway, over the real WebSocket: one user starting
sixty chats gets only their cap queued (another hotel's place in the queue is not pushed back), and
`start` frames with fields that are not strings are refused, naming the field, on a connection that
stays usable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.helpdesk_system import HelpdeskSystem, start_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PER_USER = 2
SETTINGS = {
    "HELPDESK_CHAT_MAX_CHATS_PER_USER": str(PER_USER),
    "HELPDESK_CHAT_MAX_CHATS_PER_ACCOUNT": "5",
    # The start rate limit is another defence with its own test: here the caps alone must hold.
    "HELPDESK_RATE_LIMIT_CHAT_START_PER_USER": "1000",
    "HELPDESK_RATE_LIMIT_CHAT_START_PER_ACCOUNT": "1000",
}
START = {"type": "start", "name": "Guest", "phone": "+380441234567", "question": "Help"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    # Without the demo seed: no support directory, so no topic to choose and no working hours that
    # would answer a start at night with "outside hours" instead of a place in the queue.
    running = start_system(tmp_path_factory.mktemp("hostile-chat"), seed=False, settings=SETTINGS)
    try:
        running.wait_ready()
        yield running
    finally:
        try:
            running.interrupt()
        except subprocess.TimeoutExpired:
            running.kill()


@pytest.fixture
async def sockets() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


def hotel() -> str:
    return f"hostile-{uuid.uuid4().hex[:8]}"


async def user_socket(system: HelpdeskSystem, stack: AsyncExitStack, token: str) -> ClientConnection:
    """A user's chat WebSocket through the gateway, past `auth`, closed with the test."""
    ws = await stack.enter_async_context(
        websockets.connect(
            f"{system.ws_url}/api/v1/chat/user", open_timeout=15, origin=websockets.Origin(system.url)
        )
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert (await answer(ws))["type"] == "ready"
    return ws


async def answer(ws: ClientConnection) -> dict[str, Any]:
    """The next frame that answers something (not a `no_specialist` offer)."""
    async with asyncio.timeout(15):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] != "no_specialist":
                return frame


async def test_sixty_starts_from_one_user_queue_only_their_cap_and_another_hotel_is_not_pushed_back(
    system: HelpdeskSystem, sockets: AsyncExitStack
) -> None:
    token = system.token(role="user", sub="flooder", account=hotel())

    async def start() -> dict[str, Any]:
        ws = await user_socket(system, sockets, token)
        await ws.send(json.dumps(START))
        return await answer(ws)

    answers = await asyncio.gather(*(start() for _ in range(60)))
    queued = [a for a in answers if a["type"] == "queued"]
    refused = [a for a in answers if a["type"] == "error"]
    assert len(queued) == PER_USER, answers[:5]
    assert len(refused) == 60 - PER_USER
    assert {(a["code"], a["scope"], a["limit"]) for a in refused} == {("too_many_chats", "user", PER_USER)}
    assert all(isinstance(a["message"], str) and a["message"] for a in refused)

    # The flooder's chats stay open; a guest of another hotel comes right after them.
    other = await user_socket(system, sockets, system.token(role="user", sub="guest", account=hotel()))
    await other.send(json.dumps(START))
    placed = await answer(other)
    assert placed["type"] == "queued", placed
    assert placed["position"] == PER_USER + 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", ["+380441234567"]),
        ("phone", 380441234567),
        ("question", {"text": "Help", "more": ["x"]}),
        ("name", None),
        ("name", ["Guest"]),
        ("question", "Help\u0000me"),
        ("name", "\u001b[2JGuest"),
    ],
)
async def test_a_start_with_a_field_of_the_wrong_type_or_control_characters_is_refused_naming_it(
    system: HelpdeskSystem, sockets: AsyncExitStack, field: str, value: Any
) -> None:
    ws = await user_socket(system, sockets, system.token(role="user", sub="typist", account=hotel()))
    await ws.send(json.dumps({**START, field: value}))
    refused = await answer(ws)
    assert refused["type"] == "error", refused
    assert refused["code"] == "bad_frame"
    assert refused["field"] == field
    assert field in refused["message"]
    # Nothing was queued, and the same connection still starts a chat once the frame is right.
    await ws.send(json.dumps({"type": "ping"}))
    assert (await answer(ws))["type"] == "pong"
    await ws.send(json.dumps(START))
    assert (await answer(ws))["type"] == "queued"
