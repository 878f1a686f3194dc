"""`Idempotency-Key`: a repeated request gets the first one's result; the same key with a different
request is refused (422), never answered with the result of another request.

The first request's effect records the fingerprint of what it asked for; a repeat compares its own
with it. Pure (no I/O, no framework), so domains may use it.
"""

from __future__ import annotations

import hashlib

HEADER = "Idempotency-Key"
KEY_REUSED = "this Idempotency-Key was used for a different request"


def fingerprint(*fields: str) -> str:
    """A digest of the fields that decide a request's effect; stable across processes and releases
    (it is stored with the effect)."""
    return hashlib.sha256("\x00".join(fields).encode()).hexdigest()
