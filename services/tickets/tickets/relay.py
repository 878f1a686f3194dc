"""`python -m tickets.relay`: the outbox relay alone, `HELPDESK_*` settings (Kubernetes: two replicas;
the one holding the stream's lease publishes, the other stands by).

Run the API with `HELPDESK_TICKETS_RUN_RELAY=false` when the relay runs as its own process.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from shared.service import run_standalone
from tickets.adapters.store import open_application
from tickets.bootstrap import SERVICE, check_publication
from tickets.entrypoints.workers import run_relay
from tickets.settings import TicketsSettings


async def relay(settings: TicketsSettings, nc: NATS, stop: asyncio.Event) -> None:
    check_publication()
    app = await asyncio.to_thread(open_application, settings)
    try:
        await run_relay(settings, app=app, nc=nc, stop=stop)
    finally:
        app.close()


if __name__ == "__main__":
    run_standalone(SERVICE, "tickets-relay", relay)
