""" "The history view has reached these ticket versions": a core NATS notice from the projector, so
API processes that do not run the projection still answer read-your-writes reads at once.

Not a public event and not persisted: the subject is outside every stream (`helpdesk.<domain>.>`
subjects are captured by JetStream), and a lost notice only means that a waiting read falls back to
polling the view.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.contracts.subjects import ROOT, with_prefix
from tickets.projections.waiter import ViewWaiter

APPLIED_SUBJECT = f"{ROOT}.history.tickets.applied"


def applied_subject(prefix: str) -> str:
    return with_prefix(prefix, APPLIED_SUBJECT)


async def publish_applied(nc: NATS, prefix: str, position: int, versions: Mapping[str, int]) -> None:
    """Tell every API process which versions the last committed batch reached (best effort)."""
    payload = json.dumps({"position": position, "versions": dict(versions)}, separators=(",", ":"))
    with contextlib.suppress(Exception):  # a notice is an optimisation: never fail the projection
        await nc.publish(applied_subject(prefix), payload.encode())


async def follow_applied(nc: NATS, prefix: str, waiter: ViewWaiter) -> Any:
    """Feed `waiter` from the projector's notices; returns the subscription (unsubscribe at stop)."""

    async def on_notice(msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            versions = {str(k): int(v) for k, v in body["versions"].items()}
            position = int(body["position"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # not ours to dead-letter: a malformed notice just wakes nobody
        waiter.applied(position, versions)

    return await nc.subscribe(applied_subject(prefix), cb=on_notice)
