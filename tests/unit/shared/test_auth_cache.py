"""The caching token verifier every service uses: one signature check per token, never past its expiry."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.auth import CachingTokenVerifier, Role, issue_dev_token
from shared.errors import Unauthorized
from shared.settings import CommonSettings, Environment

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-that-is-long-enough-0123456789"


@pytest.fixture
def settings() -> CommonSettings:
    return CommonSettings(environment=Environment.TEST, jwt_secret=SECRET, jwt_leeway_seconds=0)  # type: ignore[arg-type]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `jwt.decode` call's token (the work the cache spares)."""
    seen: list[str] = []
    original = jwt.decode

    def spy(token: str, *args: object, **kwargs: object) -> object:
        seen.append(token)
        return original(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", spy)
    return seen


def test_a_token_is_verified_once_then_answered_from_the_cache(
    settings: CommonSettings, calls: list[str]
) -> None:
    verifier = CachingTokenVerifier(settings)
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    first = verifier.verify(token)
    decodes = len(calls)
    for _ in range(5):
        assert verifier.verify(token) == first
    assert len(calls) == decodes
    assert first.account_id == "hotel-a"


def test_an_invalid_token_is_refused_every_time_and_never_cached(settings: CommonSettings) -> None:
    verifier = CachingTokenVerifier(settings)
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verifier.verify(forged)


def test_a_cached_token_is_checked_again_once_past_its_expiry(
    settings: CommonSettings, calls: list[str]
) -> None:
    start = time.time()
    now = [start]
    verifier = CachingTokenVerifier(settings, clock=lambda: now[0], max_age=3600)
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a", ttl_seconds=100)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    verifier.verify(token)
    decodes = len(calls)
    now[0] = exp - 0.5
    verifier.verify(token)
    assert len(calls) == decodes  # still valid: from the cache
    now[0] = exp + 0.5
    verifier.verify(token)  # (PyJWT's real clock still finds it valid: it is cached again)
    assert len(calls) > decodes  # past `exp` the cache no longer answers: the full check ran


def test_the_max_age_bounds_a_cached_entry_whatever_the_expiry(settings: CommonSettings) -> None:
    now = [time.time()]
    verifier = CachingTokenVerifier(settings, clock=lambda: now[0], max_age=60)
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    verifier.verify(token)
    assert verifier._cache[token][1] <= now[0] + 60


def test_the_cache_is_bounded(settings: CommonSettings) -> None:
    verifier = CachingTokenVerifier(settings, max_entries=3)
    for i in range(10):
        verifier.verify(issue_dev_token(settings, role=Role.USER, sub=f"u{i}", account_id="hotel-a"))
    assert len(verifier._cache) == 3
