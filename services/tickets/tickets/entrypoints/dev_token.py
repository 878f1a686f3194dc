"""Development sign-in: `POST /api/v1/dev/token` issues a short-lived bearer token for anyone.

For the demo page of the Help widget under `helpdesk up`. The composition root mounts this router
only when the environment is `development` and bearer tokens are signed with the shared HS256
development key (`CommonSettings.dev_tokens_allowed`); in `test` and `production` the route does not
exist. Tokens last ten minutes, so a page exercises its token-refresh path within a demo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self

import jwt
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.auth import Role, issue_dev_token
from shared.errors import ErrorBody, Forbidden
from shared.settings import CommonSettings, Environment
from shared.types import AccountId, UserId

TOKEN_SECONDS = 10 * 60
DEVELOPMENT_ONLY = (
    "**Development only.** Exists only when `HELPDESK_ENVIRONMENT=development` (as under "
    "`helpdesk up`) with the development HS256 key; in `test` and `production` this path is a 404. "
)


class DevTokenRequest(BaseModel):
    """Who to sign in as."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    account_id: AccountId | None = Field(default=None, description="The hotel account; required for `user`.")
    sub: UserId = Field(description="The user's id (the token's subject).")
    name: str = Field(default="", max_length=200, description="Display name.")

    @model_validator(mode="after")
    def _users_belong_to_an_account(self) -> Self:
        if self.role is Role.USER and not self.account_id:
            raise ValueError("a user belongs to a hotel account: give account_id")
        return self


class DevToken(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <access_token>`.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 -- the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until it expires.")
    expires_at: datetime


def dev_tokens_enabled(common: CommonSettings) -> bool:
    """Mount the route at all: development, with the development signing key."""
    return common.environment is Environment.DEVELOPMENT and common.dev_tokens_allowed


router = APIRouter(prefix="/api/v1/dev", tags=["development only"])


@router.post(
    "/token",
    response_model=DevToken,
    summary="Development only: a 10-minute bearer token for any role",
    description=DEVELOPMENT_ONLY
    + "Signs in as the given role, account and user without a password, for the widget's demo page.",
    responses={403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    openapi_extra={"x-development-only": True},
)
async def issue(body: DevTokenRequest, request: Request, response: Response) -> DevToken:
    common: CommonSettings = request.app.state.settings.common
    try:
        token = issue_dev_token(
            common,
            role=body.role,
            sub=body.sub,
            account_id=body.account_id,
            name=body.name,
            ttl_seconds=TOKEN_SECONDS,
        )
    except PermissionError as exc:  # settings changed under a mounted route: refuse, never sign
        raise Forbidden(str(exc)) from None
    # The expiry the token itself carries (`issue_dev_token` reads the clock once).
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return DevToken(
        access_token=token,
        expires_in=TOKEN_SECONDS,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
    )
