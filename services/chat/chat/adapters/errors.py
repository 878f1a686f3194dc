"""What the adapters raise when NATS does not answer (disconnected, timed out, the bucket lost): the
cases the application calls "NATS away" and survives, each in its own way."""

from __future__ import annotations

import nats.errors

NATS_AWAY: tuple[type[Exception], ...] = (nats.errors.Error, TimeoutError, OSError)
