"""`POST /api/v1/messages`: support sends a message straight to a user or a whole account."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from notifications.application.service import NewMessage
from notifications.application.views import snapshot
from notifications.domain.ids import popup_id_for_message
from notifications.domain.model import Cause
from notifications.entrypoints.deps import Parts
from shared.auth import AgentUser
from shared.contracts.envelope import ActorKind
from shared.contracts.popups import PopupSnapshot
from shared.errors import ErrorBody, Unprocessable
from shared.idempotency import fingerprint
from shared.ratebudgets import Action
from shared.ratelimit import limiter_of
from shared.types import AccountId, TextOnly, TicketNumber, UserId

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    user_id: UserId | None = Field(default=None, description="None: every user of the account.")
    title: Annotated[str, Field(min_length=1, max_length=200), TextOnly] = "Message from support"
    text: Annotated[str, Field(min_length=1), TextOnly]
    ticket_number: TicketNumber | None = None
    ticket_id: UUID | None = None


@router.post("", response_model=PopupSnapshot, status_code=201, responses={422: {"model": ErrorBody}})
async def send_message(
    body: SendMessage,
    agent: AgentUser,
    parts: Parts,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> PopupSnapshot:
    """Raise a popup; repeating the request with the same `Idempotency-Key` raises nothing new, and
    the key with a different body is refused (422)."""
    if len(body.text) > parts.settings.max_message_length:
        raise Unprocessable(f"the text is longer than {parts.settings.max_message_length} characters")
    await limiter_of(request.app).hit(Action.MESSAGE, agent, account=body.account_id)
    popup_id = (
        popup_id_for_message(sender=agent.sub, idempotency_key=idempotency_key)
        if idempotency_key
        else uuid4()
    )
    message = NewMessage(
        popup_id=popup_id,
        account_id=body.account_id,
        user_id=body.user_id,
        title=body.title,
        text=body.text,
        ticket_id=body.ticket_id,
        ticket_number=body.ticket_number,
        fingerprint=fingerprint(body.model_dump_json()) if idempotency_key else None,
    )
    cause = Cause(
        actor_kind=ActorKind.AGENT.value,
        actor_id=agent.sub,
        actor_name=agent.name,
        correlation_id=request.state.correlation_id,
        causation_id=None,
    )
    popup = await asyncio.to_thread(parts.service.send_message, message, cause=cause)
    parts.changed()
    return snapshot(popup, path_template=parts.settings.ticket_path_template, now=parts.clock.now())
