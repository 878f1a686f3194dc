"""The frames the chat service sends, typed: one model per frame `type`, and one discriminated union
per endpoint (`ToUser`, `ToSpecialist`), so what the application layer sends is checked where it is
built and the protocol is written down once (it is described in `chat.entrypoints.ws`; the frames
users and specialists send are `chat.entrypoints.frames`).

`wire()` is the JSON object sent. Fields that are null by meaning (a queue row whose user has not
told their name yet) are sent as null; optional parts of an error are left out when absent.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class ServerFrame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # True: absent (None) parts are left out of the JSON rather than sent as null.
    sparse: ClassVar[bool] = False

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=self.sparse)

    def wire_text(self) -> str:
        """`wire()` as the JSON text sent, serialised once, by pydantic's serializer (no dict in
        between): compact, non-ASCII as is."""
        return self.model_dump_json(by_alias=True, exclude_none=self.sparse)


class _SparseFrame(ServerFrame):
    """A frame whose absent (None) parts are left out of the JSON rather than sent as null."""

    sparse: ClassVar[bool] = True


# -- both endpoints ----------------------------------------------------------------------------


class Ready(ServerFrame):
    type: Literal["ready"] = "ready"
    name: str


class Pong(ServerFrame):
    type: Literal["pong"] = "pong"


class Error(_SparseFrame):
    """`field`: the frame's field at fault; `scope` and `limit`: which cap refused a chat."""

    type: Literal["error"] = "error"
    code: str
    message: str
    field: str | None = None
    scope: Literal["user", "account"] | None = None
    limit: int | None = None


# -- to a user ---------------------------------------------------------------------------------


class Draft(ServerFrame):
    """The request the chat would become (the tickets service's form fields)."""

    topic: str
    comment: str
    message: str
    importance: str

    def __repr__(self) -> str:  # chat text never reaches a log line
        return "Draft(<redacted>)"


class Queued(ServerFrame):
    type: Literal["queued"] = "queued"
    session: str
    position: int
    specialists_online: int


class Position(ServerFrame):
    type: Literal["position"] = "position"
    position: int


OfferReason = Literal["no_specialist_online", "wait_exceeded"]


class NoSpecialist(ServerFrame):
    type: Literal["no_specialist"] = "no_specialist"
    reason: OfferReason
    draft: Draft


class OutsideHours(ServerFrame):
    type: Literal["outside_hours"] = "outside_hours"
    topic: str
    opens_at: str | None  # ISO 8601
    first_response_due: str | None  # ISO 8601
    draft: Draft


class Specialist(ServerFrame):
    name: str


class Assigned(ServerFrame):
    type: Literal["assigned"] = "assigned"
    specialist: Specialist


class SpecialistSaid(ServerFrame):
    type: Literal["message"] = "message"
    sender: Literal["specialist"] = Field(default="specialist", alias="from")
    text: str

    def __repr__(self) -> str:
        return "SpecialistSaid(<redacted>)"


class SpecialistTyping(ServerFrame):
    type: Literal["typing"] = "typing"
    sender: Literal["specialist"] = Field(default="specialist", alias="from")


class SpecialistLeft(ServerFrame):
    type: Literal["specialist_left"] = "specialist_left"
    requeued: bool


class RequestOffered(ServerFrame):
    type: Literal["request_offered"] = "request_offered"


class Ended(_SparseFrame):
    """The session ended by the server's side; `draft` where the chat could become a request."""

    type: Literal["ended"] = "ended"
    reason: Literal["specialist_ended", "idle_timeout"]
    draft: Draft | None = None


class RequestCreated(ServerFrame):
    type: Literal["request_created"] = "request_created"
    number: str


ToUser = Annotated[
    Ready
    | Pong
    | Error
    | Queued
    | Position
    | NoSpecialist
    | OutsideHours
    | Assigned
    | SpecialistSaid
    | SpecialistTyping
    | SpecialistLeft
    | RequestOffered
    | Ended
    | RequestCreated,
    Field(discriminator="type"),
]


# -- to a specialist ---------------------------------------------------------------------------


class Status(ServerFrame):
    type: Literal["status"] = "status"
    status: Literal["available", "away"]
    capacity: int
    auto: bool
    sessions: list[str]
    teams: list[str]


class QueueRow(ServerFrame):
    """One waiting user; `name` and `question` None while the user's process has not told them."""

    session: str
    waiting_since: str  # ISO 8601, UTC
    account_id: str
    name: str | None
    question: str | None
    position: int

    def __repr__(self) -> str:
        return f"QueueRow(session={self.session!r}, position={self.position})"


class Queue(ServerFrame):
    type: Literal["queue"] = "queue"
    entries: list[QueueRow]


class ChatAssigned(ServerFrame):
    """The user's intake, shown once the chat is the specialist's (None: the user's process did
    not say, which an older version may do)."""

    type: Literal["chat_assigned"] = "chat_assigned"
    session: str
    name: str | None
    phone: str | None
    question: str | None
    account_id: str | None

    def __repr__(self) -> str:
        return f"ChatAssigned(session={self.session!r})"


class UserSaid(ServerFrame):
    type: Literal["message"] = "message"
    session: str
    text: str

    def __repr__(self) -> str:
        return f"UserSaid(session={self.session!r})"


class UserTyping(ServerFrame):
    type: Literal["typing"] = "typing"
    session: str


class OfferShown(ServerFrame):
    """The user's process showed the specialist's offer to turn the chat into a request."""

    type: Literal["request_offered"] = "request_offered"
    session: str


class RequestFiled(ServerFrame):
    type: Literal["request_created"] = "request_created"
    session: str
    number: str


class UserLeft(ServerFrame):
    type: Literal["user_left"] = "user_left"
    session: str


class ChatEnded(ServerFrame):
    type: Literal["chat_ended"] = "chat_ended"
    session: str
    reason: Literal["specialist_ended"]


ToSpecialist = Annotated[
    Ready
    | Pong
    | Error
    | Status
    | Queue
    | ChatAssigned
    | UserSaid
    | UserTyping
    | OfferShown
    | RequestFiled
    | UserLeft
    | ChatEnded,
    Field(discriminator="type"),
]
