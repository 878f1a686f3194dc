"""`python -m chat` as a process of its own, and a small WebSocket test client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from shared.natsserver import free_port
from tests.support.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ChatProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def ws(self, who: str) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/chat/{who}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_chat_process(*, env: dict[str, str], log_path: Path) -> ChatProcess:
    """`python -m chat` with this process's environment plus `env`, on a free port, ready."""
    port = free_port()
    full_env = {**os.environ, **env, "HELPDESK_CHAT_PORT": str(port)}
    pythonpath = [str(REPO), str(REPO / "services" / "chat")]
    full_env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    service = ServiceProcess("chat", env=full_env, log_path=log_path, port=port, cwd=log_path.parent)
    process = service.start().process
    assert process is not None
    chat = ChatProcess(port=port, process=process, log_path=log_path)
    try:
        service.wait_ready(timeout=30)
    except AssertionError:
        chat.stop()
        raise
    return chat


PHONE = "+380 44 123 45 67"


async def available_agent(url: str, token: str, *, capacity: int, auto: bool = True) -> WsClient:
    """A specialist connected and available with `capacity` chats (`auto`: routed to, or take by hand)."""
    agent = await WsClient.connect(url, token)
    await agent.expect("status")
    await agent.send(type="available", capacity=capacity, auto=auto)
    await agent.expect("status", status="available", auto=auto)
    return agent


async def open_chat(
    url: str, token: str, *, question: str = "Help", phone: str = PHONE, name: str = "Guest"
) -> tuple[WsClient, str]:
    """A user who started a chat and was told they are queued; with the session id."""
    user = await WsClient.connect(url, token)
    await user.send(type="start", name=name, phone=phone, question=question)
    queued = await user.expect("queued")
    return user, str(queued["session"])


@dataclass
class WsClient:
    """A test's WebSocket: `expect(type)` reads frames until one of that type, keeping the others."""

    conn: ClientConnection
    seen: list[dict[str, Any]] = field(default_factory=list)
    _pending: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def connect(cls, url: str, token: str | None = None) -> WsClient:
        conn = await websockets.connect(url, open_timeout=10, max_size=2**20)
        client = cls(conn)
        if token is not None:
            await client.send(type="auth", token=token)
            await client.expect("ready")
        return client

    async def send(self, **frame: Any) -> None:
        await self.conn.send(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.conn.send(data)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        if self._pending:
            return self._pending.pop(0)
        raw = await asyncio.wait_for(self.conn.recv(), timeout=timeout)
        frame: dict[str, Any] = json.loads(raw)
        self.seen.append(frame)
        return frame

    async def expect(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next frame of `kind` (with the given field values); frames skipped stay pending."""

        def wanted(frame: dict[str, Any]) -> bool:
            return frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items())

        return await self._next(wanted, timeout, f"no {kind} frame {match}")

    async def _next(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        skipped: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what} within {timeout}s; got {skipped}")
                frame = await self.recv(timeout=left)
                if wanted(frame):
                    return frame
                skipped.append(frame)
        finally:
            self._pending = skipped + self._pending

    async def drain(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Read whatever arrives within `seconds` (kept pending for `expect`); all frames seen so far."""
        with contextlib.suppress(TimeoutError):
            while True:
                frame = json.loads(await asyncio.wait_for(self.conn.recv(), timeout=seconds))
                self.seen.append(frame)
                self._pending.append(frame)
        return self.seen

    async def queue_where(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The entries of the next `queue` frame for which `predicate` holds (earlier ones are read)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no queue frame as expected within {timeout}s")
            entries: list[dict[str, Any]] = (await self.expect("queue", timeout=left))["entries"]
            if predicate(entries):
                return entries

    async def first_of(self, *kinds: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next frame of any of `kinds`; frames of other kinds stay pending."""
        return await self._next(lambda frame: frame.get("type") in kinds, timeout, f"none of {kinds}")

    def last(self, *kinds: str) -> dict[str, Any]:
        return [f for f in self.seen if f.get("type") in kinds][-1]

    async def silent(self, kind: str, seconds: float) -> None:
        """Assert no frame of `kind` arrives within `seconds`."""
        with contextlib.suppress(TimeoutError):
            frame = await self.expect(kind, timeout=seconds)
            raise AssertionError(f"unexpected {frame}")

    async def close(self) -> None:
        await self.conn.close()

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(self.conn.recv(), timeout=timeout)
        return self.conn.close_code
