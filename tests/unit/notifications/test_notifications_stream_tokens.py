"""Stream tokens: short-lived, for the popup stream only, bound to one user of one account."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from notifications.adapters.stream_tokens import StreamTokens, signing_key
from notifications.settings import NotificationsSettings
from shared.auth import Principal, Role, TokenVerifier, issue_dev_token
from shared.errors import Unauthorized
from shared.settings import CommonSettings, Environment

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
COMMON = CommonSettings(
    environment=Environment.TEST, jwt_secret=SecretStr("unit-secret-that-is-long-enough-0123456789")
)
ALICE = Principal(sub="alice", role=Role.USER, account_id="hotel-a", name="Alice")


def tokens(common: CommonSettings = COMMON, *, secret: str | None = None) -> StreamTokens:
    return StreamTokens(
        key=signing_key(common, secret),
        issuer=common.jwt_issuer,
        audience=common.jwt_audience,
        ttl=timedelta(seconds=60),
    )


def test_a_stream_token_names_its_user_and_account_until_it_expires() -> None:
    issued = tokens().issue(ALICE, now=NOW)
    assert issued.expires_at == NOW + timedelta(seconds=60)
    assert tokens().verify(issued.token, now=NOW + timedelta(seconds=59)) == ALICE
    with pytest.raises(Unauthorized, match="expired"):
        tokens().verify(issued.token, now=NOW + timedelta(seconds=60))


def test_a_stream_token_is_not_a_bearer_token_and_a_bearer_token_is_not_a_stream_token() -> None:
    stream_token = tokens().issue(ALICE, now=datetime.now(UTC)).token
    with pytest.raises(Unauthorized):
        TokenVerifier(COMMON).verify(stream_token)
    bearer = issue_dev_token(COMMON, role=Role.USER, sub="alice", account_id="hotel-a")
    with pytest.raises(Unauthorized):
        tokens().verify(bearer, now=datetime.now(UTC))


def test_a_token_signed_with_another_key_or_altered_is_refused() -> None:
    other = CommonSettings(
        environment=Environment.TEST, jwt_secret=SecretStr("another-secret-that-is-long-enough-987654")
    )
    foreign = tokens(other).issue(ALICE, now=NOW).token
    with pytest.raises(Unauthorized):
        tokens().verify(foreign, now=NOW)
    token = tokens().issue(ALICE, now=NOW).token
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    bob = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "bob"}).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        tokens().verify(f"{header}.{bob}.{signature}", now=NOW)


def test_a_configured_secret_replaces_the_derived_key_and_only_hotel_users_get_tokens() -> None:
    configured = tokens(secret="a-stream-token-secret-shared-by-all-replicas")
    issued = configured.issue(ALICE, now=NOW).token
    assert configured.verify(issued, now=NOW) == ALICE
    with pytest.raises(Unauthorized):
        tokens().verify(issued, now=NOW)
    with pytest.raises(ValueError, match="hotel users"):
        tokens().issue(Principal(sub="agent-7", role=Role.AGENT), now=NOW)


@pytest.mark.parametrize(
    ("common", "secret", "refused"),
    [
        ({"jwt_algorithm": "HS256"}, None, False),  # derived from the bearer secret
        ({"jwt_algorithm": "RS256", "jwt_jwks_url": "https://idp.example/jwks"}, None, True),
        ({"jwt_algorithm": "RS256", "jwt_jwks_url": "https://idp.example/jwks"}, "changeme", True),
        ({"jwt_algorithm": "RS256", "jwt_jwks_url": "https://idp.example/jwks"}, "s" * 40, False),
    ],
)
def test_production_refuses_a_missing_or_placeholder_stream_token_secret_where_none_can_be_derived(
    common: dict[str, str], secret: str | None, refused: bool
) -> None:
    production = CommonSettings.model_validate(
        {"environment": Environment.PRODUCTION, "jwt_secret": "p" * 40, **common}
    )

    def build() -> NotificationsSettings:
        return NotificationsSettings(
            common=production, stream_token_secret=SecretStr(secret) if secret else None
        )

    if refused:
        with pytest.raises(ValidationError, match="STREAM_TOKEN_SECRET"):
            build()
    else:
        assert build().common.is_production
