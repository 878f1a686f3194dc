"""Health and metrics endpoints every service exposes.

- `GET /healthz`: the process is alive (no dependency checked).
- `GET /readyz`: every registered check answers (its NATS connection, its store); 503 while shutting
  down or when one fails, with the failing checks named.
- `GET /metrics`: Prometheus text format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NATS
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from shared.logging import get_logger

log = get_logger(__name__)

Check = Callable[[], Awaitable[bool]]
Detail = Callable[[], str]


class Readiness:
    """Named readiness checks plus the shutting-down flag set by SIGTERM."""

    def __init__(self, *, timeout: float = 2.0) -> None:
        self._checks: dict[str, Check] = {}
        self._details: dict[str, Detail] = {}
        self._timeout = timeout
        self.shutting_down = False

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def add_nats(self, nc: NATS) -> None:
        """Ready while the process's NATS connection is up (every service checks it)."""

        async def connected() -> bool:
            return bool(nc.is_connected)

        self.add("nats", connected)

    def describe(self, name: str, detail: Detail) -> None:
        """A state reported in `/readyz` details that does not decide readiness (a degraded mode)."""
        self._details[name] = detail

    def details(self) -> dict[str, str]:
        return {name: detail() for name, detail in self._details.items()}

    async def _run(self, name: str, check: Check) -> bool:
        try:
            return bool(await asyncio.wait_for(check(), timeout=self._timeout))
        except Exception:  # a check failing in any way means "not ready", never a 500
            log.warning("readiness_check_failed", check=name, exc_info=True)
            return False

    async def evaluate(self) -> tuple[bool, dict[str, bool]]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(n, self._checks[n]) for n in names))
        status = dict(zip(names, results, strict=True))
        return (not self.shutting_down and all(results)), status


def health_router(
    readiness: Readiness, *, registry: CollectorRegistry = REGISTRY, metrics: bool = True
) -> APIRouter:
    """`metrics=False`: no `/metrics` here (it is served on a port of its own)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ready, checks = await readiness.evaluate()
        body: dict[str, object] = {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "shutting_down": readiness.shutting_down,
        }
        details = readiness.details()
        if details:
            body["details"] = details
        return JSONResponse(body, status_code=200 if ready else 503)

    if metrics:

        @router.get("/metrics", include_in_schema=False)
        async def metrics_page() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
