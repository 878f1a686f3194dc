"""A hostile user against the whole system behind the gateway, with low limits set through the
environment: bursts of requests, streams and chats are refused (429 and `Retry-After` in the shared
error shape; an error frame on the chat WebSocket) while other users and accounts go on unaffected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
import websockets

from tests.support.helpdesk_system import HelpdeskSystem, running_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMITS = {
    # A long window, so that no window ends during a burst.
    "HELPDESK_RATE_LIMIT_WINDOW_SECONDS": "3600",
    "HELPDESK_RATE_LIMIT_CREATE_PER_USER": "5",
    "HELPDESK_RATE_LIMIT_CREATE_PER_ACCOUNT": "50",
    "HELPDESK_RATE_LIMIT_FAQ_PER_USER": "6",
    "HELPDESK_RATE_LIMIT_STREAMS_PER_USER": "3",
    "HELPDESK_RATE_LIMIT_CHAT_START_PER_USER": "2",
}
BURST = 20


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    with running_system(tmp_path_factory.mktemp("rate-limits"), settings=LIMITS) as running:
        yield running


@pytest.fixture
async def gateway(system: HelpdeskSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hotel(system: HelpdeskSystem) -> tuple[str, dict[str, str]]:
    """A fresh account and a user of it."""
    account = f"hostile-{uuid.uuid4().hex[:8]}"
    return account, bearer(system.token(role="user", sub="u1", account=account))


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert f"{retry_after} s" in error["message"]
    assert error["request_id"]


async def create(gateway: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    form = {"topic": "other", "comment": "Burst", "message": "One of many", "importance": "normal"}
    return await gateway.post("/api/v1/tickets", data=form, headers=headers)


async def test_a_burst_of_creates_is_refused_past_the_limit_and_other_accounts_go_on(
    system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    account, hostile = hotel(system)
    answers = await asyncio.gather(*(create(gateway, hostile) for _ in range(BURST)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 5 + [429] * (BURST - 5), statuses
    for answer in answers:
        if answer.status_code == 429:
            assert_refused(answer)
    # Refused again at once, without a request getting through in between.
    assert_refused(await create(gateway, hostile))
    # Another account's user, with the same sub, is not touched; nor is a colleague in the same account.
    _, other = hotel(system)
    assert (await create(gateway, other)).status_code == 201
    colleague = bearer(system.token(role="user", sub="u2", account=account))
    assert (await create(gateway, colleague)).status_code == 201
    # Support is limited per specialist, not by the hotel's budget.
    agent = bearer(system.token(role="agent", sub=f"agent-{uuid.uuid4().hex[:6]}"))
    form = {"topic": "other", "comment": "For the hotel", "message": "By support", "account_id": account}
    assert (await gateway.post("/api/v1/tickets", data=form, headers=agent)).status_code == 201


async def test_faq_queries_share_one_budget_across_search_suggest_and_deflect(
    system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    _, hostile = hotel(system)
    calls: list[Callable[[], Awaitable[httpx.Response]]] = [
        lambda: gateway.get("/api/v1/kb/search", params={"q": "printer"}, headers=hostile),
        lambda: gateway.get("/api/v1/kb/suggest", params={"q": "pri"}, headers=hostile),
        lambda: gateway.post(
            "/api/v1/kb/deflect", json={"topic": "reports", "text": "night audit totals"}, headers=hostile
        ),
    ]
    statuses = [(await calls[i % 3]()).status_code for i in range(6)]
    assert 429 not in statuses, statuses
    for call in calls:
        assert_refused(await call())
    _, other = hotel(system)
    answered = await gateway.get("/api/v1/kb/search", params={"q": "printer"}, headers=other)
    assert answered.status_code == 200, answered.text  # someone else's query is answered


async def test_too_many_popup_streams_from_one_user_are_refused_until_one_closes(
    system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    _, hostile = hotel(system)
    issued = await gateway.post("/api/v1/popups/stream-token", headers=hostile)
    assert issued.status_code == 200, issued.text
    path = issued.json()["stream_path"]
    timeout = httpx.Timeout(30, read=None)
    async with contextlib.AsyncExitStack() as streams:
        client = await streams.enter_async_context(httpx.AsyncClient(base_url=system.url, timeout=timeout))
        held = []
        for _ in range(3):
            response = await streams.enter_async_context(client.stream("GET", path))
            assert response.status_code == 200
            held.append(response)
        async with client.stream("GET", path) as refused:
            assert refused.status_code == 429
            await refused.aread()
        assert_refused(refused)
        assert refused.json()["error"]["details"][0]["loc"] == ["rate_limit", "streams", "user"]
        _, other = hotel(system)
        other_path = (await gateway.post("/api/v1/popups/stream-token", headers=other)).json()["stream_path"]
        async with client.stream("GET", other_path) as response:
            assert response.status_code == 200
        await held[0].aclose()  # one tab closed: its slot is given back

        async def reopened() -> bool:
            async with client.stream("GET", path) as response:
                return response.status_code == 200

        async with asyncio.timeout(15):
            while not await reopened():
                await asyncio.sleep(0.2)


async def test_starting_chats_past_the_limit_gets_an_error_frame(system: HelpdeskSystem) -> None:
    token = system.token(role="user", sub="u1", account=f"hostile-{uuid.uuid4().hex[:8]}")
    url = f"{system.ws_url}/api/v1/chat/user"
    start = {"type": "start", "name": "Guest", "phone": "+380441234567", "question": "Help"}

    async def first_answer_to_start() -> dict[str, object]:
        async with websockets.connect(url, open_timeout=10, origin=websockets.Origin(system.url)) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.send(json.dumps(start))
            async with asyncio.timeout(10):
                while True:
                    frame: dict[str, object] = json.loads(await ws.recv())
                    if frame["type"] not in ("ready", "pong"):
                        return frame

    answers = [await first_answer_to_start() for _ in range(3)]
    assert all(a["type"] != "error" for a in answers[:2]), answers
    refused = answers[2]
    assert refused["type"] == "error" and refused["code"] == "rate_limited", refused
    assert " s" in str(refused["message"])
