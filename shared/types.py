"""Annotated aliases for the identifiers every service passes around."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

AccountId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"),
    Field(description="One hotel account (tenant)."),
]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128), Field(description="Token subject.")]
TicketId = Annotated[UUID, Field(description="The ticket aggregate's id.")]
TicketNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=32), Field(description="e.g. HD-000123")
]
EventId = Annotated[UUID, Field(description="Stable public event id, also the Nats-Msg-Id.")]
