"""The signing keys of a JWKS URL (production RS256), fetched without blocking the event loop.

PyJWT's `PyJWKClient` fetches with `urllib` inside `decode`: one token with an unknown `kid` stalled
the whole process for as long as the JWKS server took (4 s measured, `/healthz` included). Here the
keys are fetched with an async HTTP client under a timeout, one fetch at a time however many requests
wait for it. Known keys are answered from the cache; when the set is older than `refresh_after` it is
fetched again in the background. A failed fetch keeps the keys already known (an outage of the JWKS
server degrades to the cached keys), and an unknown `kid` asks the server again at most once per
`min_interval`, so a stream of forged `kid`s cannot turn into a stream of fetches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from jwt.exceptions import InvalidKeyError, PyJWKError

from shared.errors import Unauthorized
from shared.logging import get_logger

log = get_logger(__name__)

MAX_JWKS_BYTES = 256 * 1024


class JwksKeys:
    """A bounded cache of one JWKS URL's keys by `kid`."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        refresh_after: float = 300.0,
        min_interval: float = 30.0,
        max_keys: int = 32,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._refresh_after = refresh_after
        self._min_interval = min_interval
        self._max_keys = max_keys
        self._clock = clock
        self._transport = transport
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._fetch: asyncio.Task[None] | None = None

    def cached(self, kid: str) -> Any:
        """The key for `kid` if it is known now, without fetching; else `Unauthorized`."""
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("the token's signing key is not known")
        return key

    async def key(self, kid: str) -> Any:
        """The key for `kid`, fetching the set if `kid` is new (and not asked about very recently)."""
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None:
            if self._fetched_at is not None and now - self._fetched_at > self._refresh_after:
                self._start_fetch(now)  # in the background: this request goes on with the known key
            return key
        if self._attempted_at is None or now - self._attempted_at >= self._min_interval or self._fetching:
            # Shielded: a caller that gives up (its client went away) does not cancel the others' fetch.
            await asyncio.shield(self._start_fetch(now))
        return self.cached(kid)

    @property
    def _fetching(self) -> bool:
        return self._fetch is not None and not self._fetch.done()

    def _start_fetch(self, now: float) -> asyncio.Task[None]:
        if self._fetch is None or self._fetch.done():
            self._attempted_at = now
            self._fetch = asyncio.create_task(self._refresh(), name="jwks-fetch")
        return self._fetch

    async def _refresh(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                response = await client.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
            keys = self._parse(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            # Keep what is known: tokens signed with a cached key go on verifying during the outage.
            log.warning(
                "jwks_fetch_failed", url=self._url, error=type(exc).__name__, known_keys=len(self._keys)
            )
            return
        self._keys = keys
        self._fetched_at = self._clock()
        log.info("jwks_fetched", url=self._url, keys=len(keys))

    def _parse(self, document: Any) -> dict[str, Any]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWK set")
        keys: dict[str, Any] = {}
        for entry in document["keys"]:
            if len(keys) >= self._max_keys:
                break
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or not entry.get("kid"):
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK.from_dict(entry).key
            except (PyJWKError, InvalidKeyError, ValueError):
                continue  # a key of a type this process cannot use: the others still serve
        return keys
