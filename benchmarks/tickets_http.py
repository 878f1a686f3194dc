"""A minimal HTTP/1.1 keep-alive client for the tickets benchmarks.

httpx spends ~4 ms of CPU per request here, as much as the server it loads: on a 2-core machine the
load generator would be the bottleneck. This one sends pre-encoded requests and parses only the
status line, `Content-Length` and the headers it is asked for (~0.1 ms per request).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]


class RawHttp:
    """One keep-alive connection; one request at a time (open one per concurrent client)."""

    def __init__(self, host: str, port: int, *, token: str) -> None:
        self.host = host
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawHttp:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(
        self, method: str, path: str, *, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
        if body or method == "POST":
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        payload = head.encode() + b"\r\n" + body
        try:
            return await self._exchange(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The server closed an idle keep-alive connection: open a new one, once.
            await self.__aexit__()
            await self.__aenter__()
            return await self._exchange(payload)

    async def _exchange(self, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(payload)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, data

    async def get_json(
        self, path: str, params: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        status, headers, data = await self.request(
            "GET", path + ("?" + urlencode(params, doseq=True) if params else "")
        )
        return status, headers, json.loads(data) if data else None


# Signs the benchmark's own development tokens (test environment only).
SECRET = "benchmark-secret-that-is-long-enough-0123456789"  # noqa: S105
BOUNDARY = "benchmarkboundary7MA4YWxkTrZu0gW"


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


# One user files thousands of requests a minute here: limits far above the load, so the limiter still
# counts every request (its cost is in the figures) and refuses none.
RAISED_LIMITS = {
    f"HELPDESK_RATE_LIMIT_{name}": "1000000000"
    for name in (
        "CREATE_PER_USER",
        "CREATE_PER_ACCOUNT",
        "REPLY_PER_USER",
        "REPLY_PER_ACCOUNT",
        "UPLOAD_PER_USER",
        "UPLOAD_PER_ACCOUNT",
        "STAFF_PER_USER",
    )
}


def service_env(settings: Any, *, run_workers: bool = True) -> dict[str, str]:
    """The environment of a `python -m tickets…` process configured like `settings`.

    `BENCH_EXTRA_PATH` goes first on its PYTHONPATH (e.g. a folder with a `sitecustomize.py`).
    """
    common = settings.common
    paths = [os.environ.get("BENCH_EXTRA_PATH", ""), str(ROOT), str(ROOT / "services" / "tickets")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": common.nats_url,
        "HELPDESK_DATA_DIR": str(common.data_dir),
        "HELPDESK_JWT_SECRET": SECRET,
        "HELPDESK_LOG_LEVEL": "WARNING",
        "HELPDESK_TICKETS_PORT": str(settings.port),
        **RAISED_LIMITS,
    }
    if not run_workers:
        env |= {"HELPDESK_TICKETS_RUN_RELAY": "false", "HELPDESK_TICKETS_RUN_PROJECTION": "false"}
    if settings.postgres_dsn is not None:
        env["HELPDESK_TICKETS_POSTGRES_DSN"] = settings.postgres_dsn.get_secret_value()
        env["HELPDESK_TICKETS_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def bench_settings(*, nats_url: str, workdir: Path, postgres_dsn: str | None, schema: str | None) -> Any:
    """Tickets settings for a benchmark run: a test environment, its own data dir, quiet logs."""
    from shared.natsserver import free_port
    from shared.settings import CommonSettings, Environment
    from tickets.settings import TicketsSettings

    common = CommonSettings(
        environment=Environment.TEST,
        nats_url=nats_url,
        jwt_secret=SECRET,  # type: ignore[arg-type]
        data_dir=workdir / "data",
        log_level="WARNING",
    )
    extra: dict[str, Any] = {"postgres_dsn": postgres_dsn, "postgres_schema": schema} if postgres_dsn else {}
    return TicketsSettings(common=common, port=free_port(), **extra)
