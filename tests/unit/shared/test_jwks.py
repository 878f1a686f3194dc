"""The JWKS key cache: fetched once per new key, one fetch however many wait, the cached keys kept
through an outage of the JWKS server, and no fetch storm from forged key ids."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.errors import Unauthorized
from shared.jwks import JwksKeys

pytestmark = pytest.mark.unit

URL = "https://idp.example/jwks.json"


def jwk(kid: str) -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, "use": "sig", "alg": "RS256"}


class Server:
    """The JWKS endpoint: serves `keys`, or fails while `down`; counts requests."""

    def __init__(self, *kids: str) -> None:
        self.keys = [jwk(kid) for kid in kids]
        self.down = False
        self.document: object = None  # served instead of the keys when set
        self.requests = 0
        self.release = asyncio.Event()
        self.release.set()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await self.release.wait()
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=self.document if self.document is not None else {"keys": self.keys})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keys(server: Server, clock: Clock) -> JwksKeys:
    return JwksKeys(
        URL, transport=httpx.MockTransport(server.handle), clock=clock, refresh_after=300, min_interval=30
    )


async def test_a_new_kid_fetches_the_set_once_then_it_is_answered_from_the_cache() -> None:
    server, clock = Server("k1", "k2"), Clock()
    cache = keys(server, clock)
    with pytest.raises(Unauthorized):
        cache.cached("k1")  # nothing known before the first fetch
    assert await cache.key("k1") is not None
    assert await cache.key("k2") is not None
    assert cache.cached("k1") is not None
    assert server.requests == 1


async def test_many_requests_waiting_for_a_new_kid_share_one_fetch() -> None:
    server, clock = Server("k1"), Clock()
    server.release.clear()
    cache = keys(server, clock)
    waiting = [asyncio.create_task(cache.key("k1")) for _ in range(20)]
    await asyncio.sleep(0)
    server.release.set()
    found = await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    assert len({id(k) for k in found}) == 1
    assert server.requests == 1


async def test_cached_keys_keep_verifying_while_the_jwks_server_is_down() -> None:
    server, clock = Server("k1"), Clock()
    cache = keys(server, clock)
    known = await cache.key("k1")
    server.down = True
    clock.now += 3600  # long past `refresh_after`: a refresh is due, and fails
    assert await cache.key("k1") is known
    await asyncio.sleep(0.01)  # let the background refresh fail
    assert server.requests == 2
    assert await cache.key("k1") is known
    with pytest.raises(Unauthorized):
        await cache.key("k9")  # a key nobody could fetch stays unknown


async def test_unknown_kids_ask_the_server_at_most_once_per_interval() -> None:
    server, clock = Server("k1"), Clock()
    cache = keys(server, clock)
    for n in range(50):
        with pytest.raises(Unauthorized):
            await cache.key(f"forged-{n}")
    assert server.requests == 1
    clock.now += 31
    server.keys.append(jwk("k2"))  # rotated in
    assert await cache.key("k2") is not None
    assert server.requests == 2


async def test_a_key_dropped_from_the_set_is_forgotten_on_the_next_fetch() -> None:
    server, clock = Server("old"), Clock()
    cache = keys(server, clock)
    await cache.key("old")
    server.keys = [jwk("new")]
    clock.now += 31
    await cache.key("new")
    with pytest.raises(Unauthorized):
        cache.cached("old")


@pytest.mark.parametrize("document", [{"keys": "no"}, ["k"], {"nokeys": []}])
async def test_a_malformed_set_keeps_what_was_known(document: object) -> None:
    server, clock = Server("k1"), Clock()
    cache = keys(server, clock)
    known = await cache.key("k1")
    server.document = document
    clock.now += 3600
    await cache.key("k1")
    await asyncio.sleep(0.01)
    assert server.requests == 2
    assert cache.cached("k1") is known
