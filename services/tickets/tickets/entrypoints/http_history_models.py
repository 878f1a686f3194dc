"""Response bodies of the request history API (`http_history.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.contracts.tickets import Priority, Status


class Assignee(BaseModel):
    id: str
    name: str | None = None


class TicketSummary(BaseModel):
    """One line of the request list."""

    ticket_id: UUID
    number: str
    account_id: str
    topic: str
    topic_label: str = Field(description="The topic's name in the response's `Content-Language`.")
    status: Status
    status_label: str = Field(description="The status's label in the response's `Content-Language`.")
    importance: str
    comment: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="The ticket's version the view reflects.")
    priority: Priority | None = Field(default=None, description="Support only.")
    assignee: Assignee | None = Field(default=None, description="Support only.")
    first_response_due: datetime | None = Field(
        default=None, description="When support promised a first answer (null: no promise)."
    )


class TicketListItem(TicketSummary):
    ordinal: int = Field(
        description="`#`: the row's position in this filtered, sorted list, from 1, continuing across pages."
    )


class TicketPage(BaseModel):
    items: list[TicketListItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class TimelineActor(BaseModel):
    kind: str
    id: str
    name: str


class TimelineItem(BaseModel):
    event_id: UUID
    version: int
    type: str
    occurred_at: datetime
    actor: TimelineActor
    internal: bool = Field(description="Internal notes: shown to support only.")
    data: dict[str, Any]


class TicketDetail(TicketSummary):
    allowed_statuses: list[Status] = Field(
        description="The statuses the lifecycle allows from the current one (in lifecycle order); "
        "empty when closed. The response's `ETag` is the version, for `If-Match` on the next change."
    )
    timeline: list[TimelineItem]


class StatusCounts(BaseModel):
    new: int = 0
    in_progress: int = 0
    waiting_for_user: int = 0
    resolved: int = 0
    closed: int = 0


class TicketCounts(BaseModel):
    """Tickets per status under the list's filters other than `status`."""

    by_status: StatusCounts
    total: int = Field(description="The sum of `by_status`.")
