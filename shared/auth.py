"""Bearer JWT validation and the FastAPI dependencies built on it.

The algorithm is pinned by settings (never taken from the token header), and `exp`, `aud` and `iss`
are required. HS256 with a shared secret serves development; production uses RS256 with a PEM public
key or a JWKS URL. Claims: `sub`, `account_id`, `role` (`user`, `agent`, `editor`), `name`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import Forbidden, Unauthorized
from shared.jwks import JwksKeys
from shared.logging import bind_context
from shared.settings import CommonSettings
from shared.types import AccountId, TextOnly, UserId


class Role(StrEnum):
    USER = "user"
    AGENT = "agent"
    EDITOR = "editor"
    # Support administrators: change the support directory (topics, contacts, hours, targets).
    ADMIN = "admin"


class Principal(BaseModel):
    """Who is calling: validated claims of the bearer token."""

    model_config = ConfigDict(frozen=True)

    sub: UserId
    role: Role
    account_id: AccountId | None = None
    name: Annotated[str, Field(max_length=200), TextOnly] = ""

    @model_validator(mode="after")
    def _users_belong_to_an_account(self) -> Principal:
        if self.role is Role.USER and not self.account_id:
            raise ValueError("a user token must carry account_id")
        return self

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.EDITOR)

    def can_see_account(self, account_id: str) -> bool:
        """Whether this caller may read `account_id`'s requests (see `account_scope`)."""
        return account_access(self).allows(account_id)


@dataclass(frozen=True)
class AccountScope:
    """The accounts whose data a caller may read: every one, exactly one, or none."""

    account_id: str | None = None
    every_account: bool = False

    def allows(self, account_id: str) -> bool:
        return self.every_account or (self.account_id is not None and self.account_id == account_id)


NO_ACCOUNT = AccountScope()


def account_access(principal: Principal) -> AccountScope:
    """Who reads which hotel account's data (requests, their history and timelines, popups), in one
    place: support (`agent`) every account; a hotel `user` their own account only; a knowledge-base
    `editor` none (articles are not any account's data: every role reads the knowledge base)."""
    if principal.role is Role.AGENT:
        return AccountScope(every_account=True)
    if principal.role is Role.USER and principal.account_id:
        return AccountScope(account_id=principal.account_id)
    return NO_ACCOUNT


def account_scope(principal: Principal, *, requested: str | None = None) -> AccountScope:
    """The accounts a list or search may show this caller: support every account, or the one it asks
    for (`requested`); a hotel user their own. 403 for a caller who may read no account's data, or a
    user naming another account."""
    scope = account_access(principal)
    if scope is NO_ACCOUNT:
        raise Forbidden("this is hotel accounts' data: for hotel users and support agents")
    if requested is None:
        return scope
    if not scope.allows(requested):
        raise Forbidden("only support may read another account's data")
    return AccountScope(account_id=requested)


class TokenVerifier:
    """Validates bearer tokens against one pinned algorithm and key.

    `verify_async` is the one to call on the event loop: with a JWKS URL it may fetch the key set
    (without blocking). `verify` never does I/O: with a JWKS URL it knows only the keys cached so far.
    """

    def __init__(self, settings: CommonSettings) -> None:
        self._settings = settings
        self._algorithm = settings.jwt_algorithm
        self._jwks: JwksKeys | None = None
        self._key: Any
        if self._algorithm == "HS256":
            self._key = settings.jwt_secret.get_secret_value()
        elif settings.jwt_public_key_pem is not None:
            self._key = settings.jwt_public_key_pem.get_secret_value()
        elif settings.jwt_jwks_url:
            self._jwks = JwksKeys(settings.jwt_jwks_url, timeout=settings.jwt_jwks_timeout_seconds)
            self._key = None
        else:
            raise ValueError("RS256 needs a public key PEM or a JWKS URL")

    def verify(self, token: str) -> Principal:
        """Return the token's principal, or raise `Unauthorized` whatever is wrong with it."""
        key = self._jwks.cached(_kid(token)) if self._jwks else self._key
        return self._decode(token, key)

    async def verify_async(self, token: str) -> Principal:
        """`verify`, fetching a JWKS key set it does not know yet without blocking the event loop."""
        key = await self._jwks.key(_kid(token)) if self._jwks else self._key
        return self._decode(token, key)

    def _decode(self, token: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[self._algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not valid") from None
        try:
            return Principal.model_validate(
                {k: claims.get(k) for k in ("sub", "role", "account_id", "name") if claims.get(k) is not None}
            )
        except ValidationError:
            raise Unauthorized("the token's claims are not valid") from None


def _kid(token: str) -> str:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise Unauthorized("the token is not valid") from None
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("the token names no signing key (kid)")
    return kid


class CachingTokenVerifier(TokenVerifier):
    """Checks each distinct bearer token's signature once, not on every request.

    Under load PyJWT's decode was ~12% of an API's event-loop time, for the same few tokens again and
    again (a browser tab sends its token with every call). A verified token's principal is kept,
    keyed by the whole token, until the token expires (`exp` plus the leeway, as PyJWT judges it) or
    `max_age` passes, whichever is first; `max_age` bounds how long a rotated-out signing key keeps
    working. Only successes are cached; the cache is bounded (oldest first out).
    """

    def __init__(
        self,
        settings: CommonSettings,
        *,
        max_entries: int = 10_000,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings)
        self._leeway = settings.jwt_leeway_seconds
        self._max_entries = max_entries
        self._max_age = max_age
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        return self._cached(token) or self._remember(token, super().verify(token))

    async def verify_async(self, token: str) -> Principal:
        return self._cached(token) or self._remember(token, await super().verify_async(token))

    def _cached(self, token: str) -> Principal | None:
        hit = self._cache.get(token)
        if hit is not None:
            if self._clock() < hit[1]:
                return hit[0]
            del self._cache[token]
        return None

    def _remember(self, token: str, principal: Principal) -> Principal:
        """Called only once the token verified: failures are never cached."""
        # The signature and every claim were just checked: read `exp` without checking them again.
        claims = jwt.decode(token, options={"verify_signature": False})
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            if len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]
            self._cache[token] = (principal, min(float(exp) + self._leeway, self._clock() + self._max_age))
        return principal


def issue_dev_token(
    settings: CommonSettings,
    *,
    role: Role,
    sub: str,
    account_id: str | None = None,
    name: str = "",
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token signed with the shared HS256 secret; refused when a production key is set."""
    if not settings.dev_tokens_allowed:
        raise PermissionError("development tokens are refused when a production key is configured")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "name": name,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if account_id:
        claims["account_id"] = account_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def bearer_token(request: Request) -> str:
    return bearer_token_of(request.headers.get("authorization", ""))


def bearer_token_of(header: str) -> str:
    """The token of an `Authorization: Bearer …` header value, or `Unauthorized`."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required")
    return token.strip()


# Where the HTTP edge (`shared/edge.py`) leaves the principal it verified, in the request state.
EDGE_PRINCIPAL = "edge_principal"


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set by the composition root")
    return verifier


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, or 401 in the shared error shape."""
    principal = getattr(request.state, EDGE_PRINCIPAL, None)
    if not isinstance(principal, Principal):
        principal = await _verifier(request).verify_async(bearer_token(request))
    request.state.principal = principal
    bind_context(user=principal.sub, role=principal.role.value, account_id=principal.account_id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def requires_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency factory: the caller if their role is one of `roles`, else 403."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"this needs the role {' or '.join(sorted(r.value for r in allowed))}")
        return principal

    return dependency


AgentUser = Annotated[Principal, Depends(requires_role(Role.AGENT))]
EditorUser = Annotated[Principal, Depends(requires_role(Role.EDITOR, Role.AGENT))]
