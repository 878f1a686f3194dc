"""`python -m tickets.relay`: the outbox relays alone, `HELPDESK_*` settings: the tickets' store to the
TICKETS stream and the support directory's store to SUPPORT_DIRECTORY, each under its own lease (one
per stream; Kubernetes: two replicas, the one holding a stream's lease publishes it, the other stands
by). Both streams exist before it starts: the migration step creates them.

Run the API with `HELPDESK_TICKETS_RUN_RELAY=false` when the relays run as their own process.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from shared.service import run_standalone
from tickets.adapters.store import open_application, open_directory
from tickets.bootstrap import SERVICE, check_publication
from tickets.entrypoints.directory_workers import start_directory_relay
from tickets.entrypoints.workers import run_relay
from tickets.settings import TicketsSettings


async def relay(settings: TicketsSettings, nc: NATS, stop: asyncio.Event) -> None:
    check_publication()
    app = await asyncio.to_thread(open_application, settings)
    try:
        directory = await asyncio.to_thread(open_directory, settings)
        try:
            _, directory_relay = start_directory_relay(settings, app=directory, nc=nc, stop=stop)
            try:
                await run_relay(settings, app=app, nc=nc, stop=stop)
            finally:
                stop.set()  # the directory's relay ends with the tickets' (SIGTERM, or an error)
                await directory_relay
        finally:
            directory.close()
    finally:
        app.close()


if __name__ == "__main__":
    run_standalone(SERVICE, "tickets-relay", relay)
