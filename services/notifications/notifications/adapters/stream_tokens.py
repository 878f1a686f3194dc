"""Short-lived, single-purpose tokens for opening the popup stream from a browser's `EventSource`.

`EventSource` cannot send an `Authorization` header, so the page first asks for a stream token with its
bearer token and puts it in the stream URL (`?access_token=`). URLs end up in proxy logs and browser
history, hence: valid for about a minute (enough to open the stream; an open stream is not cut when it
expires), accepted by the stream endpoint only, bound to one user of one account.

The token is a JWT (HS256) with its own `typ` and `aud`, signed with a key of its own: the configured
stream-token secret, or one derived from the HS256 bearer secret with HMAC under a fixed label. So a
stream token is never a valid bearer token (other key, other audience), and a bearer token is never a
stream token. Expiry is checked against the service's clock (injected in tests).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError

from shared.auth import Principal, Role
from shared.errors import Unauthorized
from shared.settings import CommonSettings

TOKEN_TYPE = "popup-stream+jwt"  # noqa: S105 -- a JWT `typ`, not a secret
_DERIVATION_LABEL = b"otelms-helpdesk/notifications/popup-stream-token/v1"


def signing_key(common: CommonSettings, configured: str | None) -> bytes:
    """The configured secret, else one derived from the HS256 bearer secret, else (RS256 outside
    production, where settings refuse this) a random one that only this process knows."""
    if configured:
        return configured.encode()
    if common.jwt_algorithm == "HS256":
        return hmac.new(
            common.jwt_secret.get_secret_value().encode(), _DERIVATION_LABEL, hashlib.sha256
        ).digest()
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_at: datetime


class StreamTokens:
    def __init__(self, *, key: bytes, issuer: str, audience: str, ttl: timedelta) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = f"{audience}/popups/stream"
        self._ttl = ttl

    def issue(self, principal: Principal, *, now: datetime) -> StreamToken:
        if principal.role is not Role.USER or not principal.account_id:
            raise ValueError("stream tokens are for hotel users")
        expires_at = now + self._ttl
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": principal.sub,
            "account_id": principal.account_id,
            "name": principal.name,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256", headers={"typ": TOKEN_TYPE})
        return StreamToken(token=token, expires_at=expires_at.replace(microsecond=0))

    def verify(self, token: str, *, now: datetime) -> Principal:
        """The hotel user the token was issued to, or `Unauthorized` whatever is wrong with it."""
        try:
            if jwt.get_unverified_header(token).get("typ") != TOKEN_TYPE:
                raise Unauthorized("not a stream token")
            claims = jwt.decode(
                token,
                key=self._key,
                algorithms=["HS256"],
                audience=self._audience,
                issuer=self._issuer,
                # Time is checked below against the service's clock, without leeway.
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError:
            raise Unauthorized("the stream token is not valid") from None
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise Unauthorized("the stream token has expired; ask for a new one")
        try:
            return Principal(
                sub=claims["sub"],
                role=Role.USER,
                account_id=claims.get("account_id"),
                name=claims.get("name") or "",
            )
        except ValidationError:
            raise Unauthorized("the stream token's claims are not valid") from None
