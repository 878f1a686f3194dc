"""Client traffic for the scaled-out test: creates and agent replies through both tickets replicas at
once (bounded retries on 503 / a dropped connection), and a browser tab following its popups (SSE,
resuming with `Last-Event-ID` when the stream ends, as `EventSource` does)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.support.scale.system import Scaled

RETRYABLE = frozenset({502, 503, 504})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Figures:
    """What the traffic did: per phase ("before"/"after" the node loss) counts and latencies."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    retried_replies: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)
    # (monotonic time, what) of every answer that was not a success: 5xx or a dropped connection
    errors_at: list[tuple[float, str]] = field(default_factory=list)

    def summary(self, made: list[tuple[str, Created]], *, replies: int) -> str:
        latencies = sorted(self.latencies) or [0.0]
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        median = statistics.median(latencies)
        before = sum(1 for phase, _ in made if phase == "before")
        files = sum(1 for _, t in made if t.with_file)
        return (
            f"\nscale-out: {len(made)} tickets ({files} with a file; {before} before / {len(made) - before}"
            f" after the kill point), {len(made) * replies} replies in {self.seconds:.1f}s;"
            f" HTTP attempts {dict(self.requests)}, responses {dict(self.statuses)},"
            f" retries {dict(self.retries)}, retried replies {self.retried_replies},"
            f" 500s {len(self.server_errors)}, failures {len(self.failures)};"
            f" latency median {median * 1000:.0f} ms,"
            f" p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )

    phase: str = "before"


@dataclass(frozen=True)
class Created:
    ticket_id: str
    number: str
    account: str
    user: str
    version: int
    via: str
    with_file: bool


class Client:
    """POSTs with a bounded retry: 502/503/504, a 500 (recorded) and transport errors are retried;
    every request carries an Idempotency-Key or an If-Match, so a retry never doubles an effect."""

    def __init__(self, http: httpx.AsyncClient, figures: Figures, *, attempts: int = 10) -> None:
        self.http = http
        self.figures = figures
        self.attempts = attempts

    async def post(self, url: str, *, ok: set[int], **kwargs: Any) -> httpx.Response:
        delay = 0.25
        last = ""
        for attempt in range(self.attempts):
            started = time.monotonic()
            self.figures.requests[self.figures.phase] += 1
            try:
                response = await self.http.post(url, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                self.figures.errors_at.append((time.monotonic(), type(exc).__name__))
                self.figures.statuses[f"{self.figures.phase} {type(exc).__name__}"] += 1
            else:
                self.figures.latencies.append(time.monotonic() - started)
                self.figures.statuses[f"{self.figures.phase} {response.status_code}"] += 1
                if response.status_code >= 500:
                    self.figures.errors_at.append((time.monotonic(), str(response.status_code)))
                if response.status_code in ok or (attempt and response.status_code in {409, 412}):
                    return response
                if response.status_code == 500:
                    # A bug to report (never a 500), but the request is idempotent: retry it as a
                    # client would, so the other checks still see the whole traffic.
                    self.figures.server_errors.append(f"{self.figures.phase} {url}: {response.text[:300]}")
                elif response.status_code not in RETRYABLE:
                    raise AssertionError(f"{url}: {response.status_code} {response.text}")
                last = f"{response.status_code} {response.text[:200]}"
            self.figures.retries[self.figures.phase] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.figures.failures.append(f"{url}: gave up after {self.attempts} attempts: {last}")
        raise AssertionError(f"{url}: gave up after {self.attempts} attempts: {last}")


async def create_and_reply(
    client: Client,
    *,
    create_url: str,
    reply_url: str,
    user_token: str,
    agent_token: str,
    account: str,
    user: str,
    replies: int,
    with_file: bool = False,
) -> Created:
    """One request filed through one replica (its file, if any, goes to the JetStream object store),
    answered `replies` times through the other."""
    key = str(uuid.uuid4())
    files = {"file": ("log.txt", f"printer log {key}\n".encode(), "text/plain")} if with_file else None
    created = await client.post(
        f"{create_url}/api/v1/tickets",
        ok={200, 201},
        data={"topic": "other", "comment": "Scale", "message": f"Request {key}", "importance": "normal"},
        files=files,
        headers={**bearer(user_token), "Idempotency-Key": key},
    )
    body = created.json()
    ticket = Created(body["id"], body["number"], account, user, body["version"], create_url, with_file)
    version = ticket.version
    for index in range(replies):
        # If-Match makes a retried reply safe: a repeat of one that was stored answers 409/412.
        replied = await client.post(
            f"{reply_url}/api/v1/tickets/{ticket.ticket_id}/replies",
            ok={201},
            data={"text": f"Answer {index} to {ticket.number}"},
            headers={**bearer(agent_token), "If-Match": f'"{version}"'},
        )
        if replied.status_code == 201:
            version = replied.json()["version"]
        else:  # an earlier attempt was stored: read the version it left (the view waits for it)
            client.figures.retried_replies += 1
            detail = await client.http.get(
                f"{reply_url}/api/v1/tickets/{ticket.ticket_id}",
                params={"min_version": version + 1},
                headers=bearer(agent_token),
            )
            assert detail.status_code == 200, detail.text
            version = detail.json()["version"]
    return ticket


async def run_traffic(
    system: Scaled,
    figures: Figures,
    *,
    users: dict[str, str],
    agent: str,
    replies: int,
    workers_per_replica: int = 3,
    seconds_before_kill: float = 6.0,
    seconds_after_kill: float = 10.0,
    settle_after_kill: float = 30.0,
    max_tickets_per_worker: int = 60,
    kill: bool = True,
) -> tuple[list[tuple[str, Created]], float]:
    """Workers on both tickets replicas (each creates through one and replies through the other,
    every third request with a file) until stopped; the victim node is SIGKILLed after
    `seconds_before_kill`. The traffic goes on `seconds_after_kill`, and then until each replica has
    filed a request begun after the loss, at most `settle_after_kill` s more (on a busy machine a create
    with its replies takes seconds while the cluster elects new leaders, and a fixed window could end
    before the second replica's turn). Returns (phase, ticket) of every request filed, and the kill
    time."""
    a, b = (process.url for process in system.tickets)
    accounts = list(users)
    stop = asyncio.Event()
    made: list[tuple[str, Created]] = []

    async def worker(index: int, create_url: str, reply_url: str) -> None:
        account = accounts[index % len(accounts)]
        for count in range(max_tickets_per_worker):
            if stop.is_set():
                return
            phase = figures.phase
            ticket = await create_and_reply(
                client,
                create_url=create_url,
                reply_url=reply_url,
                user_token=users[account],
                agent_token=agent,
                account=account,
                user=f"{account}-user",
                replies=replies,
                with_file=count % 3 == 2,
            )
            made.append((phase, ticket))

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=20) as http:
        client = Client(http, figures)
        tasks = [
            asyncio.create_task(worker(i, *((a, b) if i % 2 == 0 else (b, a))))
            for i in range(2 * workers_per_replica)
        ]
        await asyncio.sleep(seconds_before_kill)
        figures.phase = "after"
        killed_at = time.monotonic()
        if kill:
            await asyncio.to_thread(system.kill_victim)
        await asyncio.sleep(seconds_after_kill)
        deadline = time.monotonic() + settle_after_kill
        while time.monotonic() < deadline and {t.via for phase, t in made if phase == "after"} != {a, b}:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    figures.seconds = time.monotonic() - started
    return made, killed_at


async def sample_readiness(
    urls: dict[str, str], stop: asyncio.Event, bad: list[tuple[float, str, str]], *, every: float = 0.5
) -> None:
    """Append (monotonic time, service, answer) to `bad` for every /readyz answer other than 200."""
    async with httpx.AsyncClient(timeout=2) as http:
        while not stop.is_set():
            for name, url in urls.items():
                try:
                    status = str((await http.get(url)).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                if status != "200":
                    bad.append((time.monotonic(), name, status))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


def window(times: list[float], since: float) -> str:
    """`first–last s after `since`` of the given instants, or "none"."""
    after = sorted(t - since for t in times if t >= since)
    return f"{after[0]:.1f}–{after[-1]:.1f}s" if after else "none"


@dataclass
class Tab:
    """One user's open tab on one notifications replica: the popup ids its SSE stream delivered."""

    url: str
    token: str
    popups: list[str] = field(default_factory=list)
    reconnects: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_event_id: str | None = None

    async def follow(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=40)) as http:
            while not stop.is_set():
                headers = bearer(self.token)
                if self.last_event_id is not None:
                    headers["Last-Event-ID"] = self.last_event_id
                try:
                    async with http.stream(
                        "GET", f"{self.url}/api/v1/popups/stream", headers=headers
                    ) as stream:
                        if stream.status_code != 200:
                            raise httpx.TransportError(f"stream answered {stream.status_code}")
                        await self._read(stream)
                except httpx.TransportError:
                    pass
                if stop.is_set():
                    return
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def _read(self, stream: httpx.Response) -> None:
        name, data, event_id = "", [], None
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                name = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data.append(line.partition(":")[2].strip())
            elif line.startswith("id:"):
                event_id = line.partition(":")[2].strip()
            elif line == "":
                if event_id:
                    self.last_event_id = event_id
                if name == "ready":
                    self.ready.set()
                elif name == "popup.raised" and data:
                    self.popups.append(json.loads("\n".join(data))["data"]["popup"]["popup_id"])
                name, data, event_id = "", [], None
