"""Another team's consumer, written against the published contract only: the JSON Schema files, the
AsyncAPI document and a plain NATS client. The whole system runs (`helpdesk up`), every journey is
driven over HTTP and WebSocket through the gateway, then every stream is replayed from its start.

The consumer half (`Contract`, `replay`, the checks) imports nothing of the product: no `shared`, no
service. The harness half starts the system, signs tokens and finds the NATS URL `helpdesk up` recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import websockets
from jsonschema import Draft202012Validator
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from websockets.asyncio.client import ClientConnection

from helpdesk.discovery import RECORD_FILE
from tests.support.helpdesk_system import HelpdeskSystem, running_system
from tests.support.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "schemas"
ACCOUNT = "contract-hotel"
USER = "contract-reception"
PHONE_TYPED, PHONE_E164 = "067 555 98 76", "+380675559876"
WAIT = 60.0
# A request's first answer promised within a minute of round-the-clock business time is late a minute
# later; the breach checker looks every second.
BREACH_WAIT = 150.0
SETTINGS = {"HELPDESK_TICKETS_BREACH_CHECK_SECONDS": "1"}


# --- the consumer: the published files and nats-py, nothing else -------------------------------------


@dataclass(frozen=True)
class Channel:
    key: str
    address: str
    subject_filter: str
    stream: str
    messages: frozenset[str]  # "<type>.v<version>"
    history_only: bool


@dataclass
class Contract:
    """What a consumer reads from `shared/contracts/schemas/`."""

    channels: list[Channel]
    headers: dict[str, dict[str, Any]]  # message key → headers schema
    validators: dict[tuple[str, int], Draft202012Validator] = field(default_factory=dict)
    dead_letter_stream: str = ""

    @classmethod
    def load(cls, directory: Path) -> Contract:
        document = json.loads((directory / "asyncapi.json").read_text())
        channels, dead_letters = [], ""
        for key, channel in document["channels"].items():
            if key == "dlq":
                dead_letters = channel["x-jetstream-stream"]
                continue
            channels.append(
                Channel(
                    key=key,
                    address=channel["address"],
                    subject_filter=re.sub(r"\{[a-z_]+\}", "*", channel["address"]),
                    stream=channel["x-jetstream-stream"],
                    messages=frozenset(channel["messages"]),
                    history_only=bool(channel.get("x-history-only")),
                )
            )
        headers = {k: m["headers"] for k, m in document["components"]["messages"].items()}
        contract = cls(channels=channels, headers=headers, dead_letter_stream=dead_letters)
        for path in sorted(directory.glob("*/*.json")):
            schema = json.loads(path.read_text())
            Draft202012Validator.check_schema(schema)
            pinned = schema["properties"]
            key = (pinned["type"]["const"], pinned["schema_version"]["const"])
            assert key not in contract.validators, f"two schema files for {key}"
            contract.validators[key] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return contract

    def channel_of(self, subject: str) -> Channel | None:
        matching = [c for c in self.channels if subject_matches(c.subject_filter, subject)]
        assert len(matching) <= 1, f"{subject} is on several channels: {matching}"
        return matching[0] if matching else None


def subject_matches(pattern: str, subject: str) -> bool:
    wanted, tokens = pattern.split("."), subject.split(".")
    if wanted[-1] == ">" and len(tokens) >= len(wanted):
        wanted, tokens = wanted[:-1], tokens[: len(wanted) - 1]
    return len(wanted) == len(tokens) and all(w in ("*", t) for w, t in zip(wanted, tokens, strict=True))


@dataclass(frozen=True)
class Received:
    channel: Channel
    subject: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]


async def counts_by_channel(js: JetStreamContext, contract: Contract) -> dict[str, int]:
    """Messages now on each channel; every subject on a stream must belong to a documented channel."""
    counts = dict.fromkeys((c.key for c in contract.channels), 0)
    for stream in sorted({c.stream for c in contract.channels}):
        info = await js.stream_info(stream, subjects_filter=">")
        for subject, count in (info.state.subjects or {}).items():
            channel = contract.channel_of(subject)
            assert channel is not None and channel.stream == stream, f"undocumented subject {subject}"
            counts[channel.key] += count
        assert sum(counts[c.key] for c in contract.channels if c.stream == stream) == info.state.messages
    return counts


async def replay(js: JetStreamContext, contract: Contract, counts: dict[str, int]) -> list[Received]:
    """Each channel from the start of its stream, with an ordered consumer on its documented filter."""
    received = []
    for channel in contract.channels:
        if not counts[channel.key]:
            continue
        sub = await js.subscribe(channel.subject_filter, stream=channel.stream, ordered_consumer=True)
        try:
            for _ in range(counts[channel.key]):
                msg = await sub.next_msg(timeout=10)
                received.append(
                    Received(channel, msg.subject, dict(msg.headers or {}), msg.data, json.loads(msg.data))
                )
        finally:
            await sub.unsubscribe()
    return received


def check_message(contract: Contract, message: Received) -> None:
    body, key = message.body, (message.body["type"], message.body["schema_version"])
    validator = contract.validators.get(key)
    assert validator is not None, f"no schema file for {key} ({message.subject})"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{message.subject} fails {key}: {errors}"
    name = f"{key[0]}.v{key[1]}"
    assert name in message.channel.messages, f"{name} arrived on {message.channel.address}"
    header_errors = list(Draft202012Validator(contract.headers[name]).iter_errors(message.headers))
    assert not header_errors, f"{message.subject} headers: {[e.message for e in header_errors]}"
    assert message.headers["Nats-Msg-Id"] == body["event_id"], (message.subject, message.headers)


# --- the harness: the system, its NATS URL, tokens, and the journeys ----------------------------------


def nats_url_of(system: HelpdeskSystem) -> str:
    url: str = json.loads((system.data_dir / RECORD_FILE).read_text())["nats_url"]
    return url


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    with running_system(tmp_path_factory.mktemp("consumer-contract"), settings=SETTINGS) as running:
        yield running


@dataclass
class Ws:
    """A WebSocket through the gateway that reads frames until one of a wanted type."""

    conn: ClientConnection
    pending: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def open(cls, system: HelpdeskSystem, who: str, token: str) -> Ws:
        conn = await websockets.connect(
            f"{system.ws_url}/api/v1/chat/{who}", open_timeout=10, origin=websockets.Origin(system.url)
        )
        ws = cls(conn)
        await ws.send(type="auth", token=token)
        await ws.expect("ready")
        return ws

    async def send(self, **frame: Any) -> None:
        await self.conn.send(json.dumps(frame))

    async def expect(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        for i, kept in enumerate(self.pending):
            if kept.get("type") == kind:
                return self.pending.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                frame: dict[str, Any] = json.loads(await self.conn.recv())
                if frame.get("type") == kind:
                    return frame
                self.pending.append(frame)


@dataclass
class Journeys:
    system: HelpdeskSystem
    http: httpx.AsyncClient
    chat_texts: list[str] = field(default_factory=list)

    def auth(self, role: str, sub: str, account: str | None = None) -> dict[str, str]:
        token = self.system.token(role=role, sub=sub, account=account, name=sub)
        return {"Authorization": f"Bearer {token}"}

    @property
    def user(self) -> dict[str, str]:
        return self.auth("user", USER, ACCOUNT)

    @property
    def agent(self) -> dict[str, str]:
        return self.auth("agent", "contract-agent")

    async def ok(self, method: str, path: str, *, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        return body

    async def late_request(self) -> None:
        """First answers promised within a minute, then a request on a round-the-clock topic nobody
        answers: a breach, once the minute has passed."""
        admin = self.auth("admin", "contract-admin")
        targets = dict.fromkeys(("low", "normal", "high", "critical"), 1)
        await self.ok("PUT", "/api/v1/support/directory/response-targets", headers=admin, json=targets)
        await self.ok(
            "POST", "/api/v1/tickets", status=201, headers=self.user,
            data={"topic": "payments", "comment": "Invoice", "message": "Where is it?", "importance": "low"},
        )  # fmt: skip

    async def request(self) -> None:
        """A request with a file, a reply, a note and every change support makes."""
        created = await self.ok(
            "POST", "/api/v1/tickets", status=201, headers=self.user,
            data={"topic": "reports", "comment": "Night audit", "message": "The report is empty",
                  "importance": "high"},
            files={"file": ("audit.txt", b"night audit log\n", "text/plain")},
        )  # fmt: skip
        base = f"/api/v1/tickets/{created['id']}"
        await self.ok("POST", f"{base}/replies", status=201, headers=self.agent, data={"text": "We look."})
        await self.ok("POST", f"{base}/notes", status=201, headers=self.agent, json={"text": "Check cron."})
        await self.ok("POST", f"{base}/status", headers=self.agent, json={"status": "in_progress"})
        await self.ok("POST", f"{base}/topic", headers=self.agent, json={"topic": "bookings"})
        await self.ok("POST", f"{base}/priority", headers=self.agent, json={"priority": "p2"})
        await self.ok("POST", f"{base}/assignee", headers=self.agent, json={"to_self": True})

    async def popups(self) -> None:
        """Messages to a user and to the account; delivered, snoozed (till it is due), opened, deleted."""
        to_user = await self.ok(
            "POST", "/api/v1/messages", status=201, headers=self.agent,
            json={"account_id": ACCOUNT, "user_id": USER, "text": "Your invoice is ready."},
        )  # fmt: skip
        to_account = await self.ok(
            "POST", "/api/v1/messages", status=201, headers=self.agent,
            json={"account_id": ACCOUNT, "text": "Maintenance tonight at 23:00."},
        )  # fmt: skip
        mine, everyone = (f"/api/v1/popups/{p['popup_id']}" for p in (to_user, to_account))
        await self.ok("POST", f"{mine}/delivered", headers=self.user)
        until = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        await self.ok("POST", f"{mine}/snooze", headers=self.user, json={"until": until})

        async def due() -> bool:  # raised, delivered, snoozed, then due again: version 4
            popup = await self.ok("GET", mine, headers=self.user)
            return bool(popup["status"] == "due" and popup["version"] >= 4)

        await eventually(due, timeout=WAIT, interval=0.2, what="the snoozed popup is due again")
        await self.ok("POST", f"{mine}/open", headers=self.user)
        await self.ok("POST", f"{everyone}/delete", headers=self.user)

    async def chat(self) -> None:
        """A chat started, taken by a specialist, a few messages each way, ended by the specialist."""
        agent = await Ws.open(self.system, "agent", self.system.token(role="agent", sub="contract-spec"))
        await agent.expect("status")
        await agent.send(type="available", capacity=1)
        user_token = self.system.token(role="user", sub="contract-chatter", account=ACCOUNT)
        user = await Ws.open(self.system, "user", user_token)
        question = f"Question {uuid.uuid4().hex}"
        self.chat_texts += [question, "Chatter Name"]
        # Payments: the seeded directory's round-the-clock topic, so the chat opens at any hour.
        await user.send(
            type="start", topic="payments", name="Chatter Name", phone=PHONE_TYPED, question=question
        )
        session = (await user.expect("queued"))["session"]
        await agent.expect("chat_assigned")
        await user.expect("assigned")
        for i in range(2):
            asked, answered = f"user says {uuid.uuid4().hex} {i}", f"agent says {uuid.uuid4().hex} {i}"
            self.chat_texts += [asked, answered]
            await user.send(type="message", text=asked)
            await agent.expect("message")
            await agent.send(type="message", session=session, text=answered)
            await user.expect("message")
        await agent.send(type="end", session=session)
        await user.expect("ended")
        await user.conn.close()
        await agent.conn.close()

    async def knowledge_base(self) -> None:
        editor = self.auth("editor", "contract-editor")
        article = {"id": f"contract:{uuid.uuid4().hex}", "lang": "en", "section": "reports",
                   "title": "Night audit", "body": "Run the night audit after midnight."}  # fmt: skip
        path = f"/api/v1/kb/articles/{article['id']}"
        await self.ok("POST", "/api/v1/kb/articles", status=201, headers=editor, json=article)
        update = {k: v for k, v in article.items() if k != "id"} | {"body": "Run it after 00:30."}
        await self.ok("PUT", path, headers=editor, json=update)
        await self.ok("POST", f"{path}/feedback", status=202, headers=self.user, json={"helpful": True})
        await self.ok("DELETE", path, headers=editor)


@pytest.fixture(scope="module")
async def driven(system: HelpdeskSystem) -> AsyncIterator[Journeys]:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        journeys = Journeys(system, http)
        await journeys.late_request()
        await journeys.request()
        await journeys.popups()
        await journeys.chat()
        await journeys.knowledge_base()
        yield journeys


# --- the checks --------------------------------------------------------------------------------------


async def test_every_documented_channel_replays_valid_events_whose_msg_id_is_their_event_id(
    system: HelpdeskSystem, driven: Journeys
) -> None:
    contract = Contract.load(SCHEMAS)
    live = [c for c in contract.channels if not c.history_only]
    nc = await nats.connect(nats_url_of(system))
    try:
        js = nc.jetstream()

        empty: list[str] = []

        async def every_channel_has_messages() -> bool:
            counts = await counts_by_channel(js, contract)
            empty[:] = [c.address for c in live if not counts[c.key]]
            return not empty

        await eventually(
            every_channel_has_messages,
            timeout=BREACH_WAIT,
            interval=0.2,
            what=lambda: f"a message on every channel; empty: {empty}",
        )
        counts = await counts_by_channel(js, contract)
        received = await replay(js, contract, counts)
        assert len(received) == sum(counts.values())
        for message in received:
            check_message(contract, message)
        assert {m.channel.key for m in received} >= {c.key for c in live}
        assert len({m.body["event_id"] for m in received}) == len(received), "an event id twice"
        try:
            dead = await js.stream_info(contract.dead_letter_stream)
        except NotFoundError:
            dead = None
        assert dead is None or dead.state.messages == 0, "a journey's event was dead-lettered"
    finally:
        await nc.close()


async def test_chat_statistics_carry_their_figures_and_no_personal_data(
    system: HelpdeskSystem, driven: Journeys
) -> None:
    contract = Contract.load(SCHEMAS)
    chat = [c for c in contract.channels if c.stream == "CHAT_STATS"]
    nc = await nats.connect(nats_url_of(system))
    try:
        js = nc.jetstream()
        counts = await counts_by_channel(js, contract)
        received = await replay(js, Contract(chat, contract.headers, contract.validators), counts)
    finally:
        await nc.close()
    assert {m.body["type"] for m in received} >= {"chat.started", "chat.assigned", "chat.ended"}
    needles = [PHONE_E164, PHONE_TYPED, PHONE_E164[4:], *driven.chat_texts]
    for message in received:
        check_message(contract, message)
        assert message.body["data"], f"{message.body['type']} carries no figures"
        leaked = [n for n in needles if n.encode() in message.raw or n in json.dumps(message.headers)]
        assert not leaked, f"{message.subject} carries {leaked}"
