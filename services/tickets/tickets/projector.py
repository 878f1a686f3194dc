"""`python -m tickets.projector`: the history projection alone, configured by `HELPDESK_*` settings.

Run the API with `HELPDESK_TICKETS_RUN_PROJECTION=false` when the projection runs as its own process.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from shared.service import run_standalone
from tickets.bootstrap import SERVICE
from tickets.entrypoints.workers import open_history_store, run_projector
from tickets.settings import TicketsSettings


async def project(settings: TicketsSettings, nc: NATS, stop: asyncio.Event) -> None:
    store = open_history_store(settings)
    try:
        await run_projector(settings, store=store, nc=nc, stop=stop)
    finally:
        store.close()


if __name__ == "__main__":
    run_standalone(SERVICE, "tickets-projector", project)
