"""Request and response bodies of the tickets command API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field

from shared.types import TextOnly
from tickets.domain.values import COMMENT_MAX, MESSAGE_MAX, Importance, Priority, Status

DEFAULT_IMPORTANCE = Importance.NORMAL


class CommandAccepted(BaseModel):
    """The outcome of a command, once its events are committed."""

    id: UUID = Field(description="The ticket's id (same as `ticket_id`).")
    ticket_id: UUID
    account_id: str
    number: str = Field(description="Human-friendly ticket number, e.g. HD-000123.")
    version: int = Field(description="The ticket's aggregate version after the command (for If-Match).")
    status: Status
    position: int | None = Field(description="Store position of the command's events (read-your-writes).")
    created: bool = Field(default=True, description="False when an Idempotency-Key repeat found the ticket.")
    changed: bool = Field(default=True, description="False when nothing had to change.")
    message_id: UUID | None = None
    note_id: UUID | None = None
    attachment_id: UUID | None = None
    first_response_due: datetime | None = Field(
        default=None, description="On a create: when support promises a first answer (null: no promise)."
    )


class Topic(BaseModel):
    id: str = Field(description="What to send as `topic`.")
    name: str = Field(description="What to show, in the asked language.")
    open_now: bool | None = Field(default=None, description="Whether support answers this topic now.")
    opens_at: datetime | None = Field(default=None, description="When closed: the next opening.")
    first_response_due: dict[str, datetime | None] = Field(
        default_factory=dict, description="Per importance: the first answer a request filed now is promised."
    )


class TopicList(BaseModel):
    topics: list[Topic]


class RequestForm(BaseModel):
    """What the "New request" form may send, so a client checks it before uploading anything."""

    topics: list[Topic] = Field(description="The `topic` choices, as in `GET /api/v1/topics`.")
    importance: list[Importance] = Field(description="The `importance` choices, lowest first.")
    default_importance: Importance
    comment_max: int = Field(description="Longest `comment` (short description), in characters.")
    message_max: int = Field(description="Longest `message` (and reply text), in characters.")
    max_file_bytes: int = Field(description="Largest file, in bytes (one file per message).")
    allowed_types: list[str] = Field(description="Accepted content types, sniffed from the bytes.")
    allowed_extensions: list[str] = Field(
        description="File-name extensions of the accepted types, for a file input's `accept`."
    )


# One model for the whole form: FastAPI reads the form once and pydantic checks every field in one call
# (before, each field was a parameter of its own, validated on its own). As for any form field, an
# empty value counts as not sent; fields the form does not name are ignored.
class NewRequestForm(BaseModel):
    """The new-request form (multipart): topic, short description, message, importance, one file."""

    topic: Annotated[str, Field(min_length=1, max_length=100), TextOnly]
    comment: Annotated[str, Field(min_length=1, max_length=COMMENT_MAX), TextOnly]
    message: Annotated[str, Field(min_length=1, max_length=MESSAGE_MAX), TextOnly]
    importance: Importance = DEFAULT_IMPORTANCE
    account_id: Annotated[str | None, Field(max_length=64, description="Support only"), TextOnly] = None
    # Described here for the API document; the one-file rule reads the parsed form (`single_upload`).
    file: UploadFile | None = Field(default=None, description="One optional file")


class ReplyForm(BaseModel):
    """A reply (multipart): text and/or one file; one of them is needed (checked by the endpoint)."""

    text: Annotated[str, Field(max_length=MESSAGE_MAX), TextOnly] = ""
    # Described here for the API document, as on `NewRequestForm`.
    file: UploadFile | None = Field(default=None, description="One optional file")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=MESSAGE_MAX), TextOnly]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    reason: Annotated[str | None, Field(max_length=500), TextOnly] = None


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: Annotated[str, Field(min_length=1, max_length=100), TextOnly]


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority | None


class AssigneeIn(BaseModel):
    """Assign to yourself (`to_self`), to another agent (`assignee_id`), or unassign (neither)."""

    model_config = ConfigDict(extra="forbid")
    to_self: bool = False
    assignee_id: Annotated[str | None, Field(min_length=1, max_length=128), TextOnly] = None
    assignee_name: Annotated[str | None, Field(max_length=200), TextOnly] = None
