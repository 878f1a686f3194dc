"""The words of the chat session's state machine (`chat.domain.session`): the events that happen to a
chat and the effects a transition asks its caller to carry out. Values only; no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chat.domain import server_frames as out
from chat.domain.conversation import Speaker
from shared.contracts.chat import ChatEventData, EndReason

# -- events: what happens to a chat ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserSaid:
    text: str

    def __repr__(self) -> str:  # chat text never reaches a log line
        return "UserSaid(<redacted>)"


@dataclass(frozen=True, slots=True)
class UserTyped:
    pass


@dataclass(frozen=True, slots=True)
class UserFiledRequest:
    """The user turned the chat into the request `number` (created before the event)."""

    number: str


@dataclass(frozen=True, slots=True)
class UserLeft:
    """The user's WebSocket closed (or the process stops): the chat ends for `reason`."""

    reason: EndReason
    now: float


@dataclass(frozen=True, slots=True)
class QueueJoined:
    """The chat's queue entry is written: the user hears their place and how many specialists are
    online, and is offered a request at once when none is."""

    sid: str
    position: int
    specialists_online: int


@dataclass(frozen=True, slots=True)
class WaitChecked:
    """The process's periodic look at a waiting chat."""

    now: float
    max_wait: float


@dataclass(frozen=True, slots=True)
class PositionChanged:
    position: int


@dataclass(frozen=True, slots=True)
class CardAsked:
    """A specialists' process asks for the name and question to show the queue."""


@dataclass(frozen=True, slots=True)
class FromSpecialist:
    """Sent by a specialist's process: `agent` is the key of the specialist it speaks for."""

    agent: str


@dataclass(frozen=True, slots=True)
class SpecialistJoined(FromSpecialist):
    name: str
    specialist_id: str  # the specialist's id for the statistics
    now: float


@dataclass(frozen=True, slots=True)
class SpecialistSaid(FromSpecialist):
    text: str

    def __repr__(self) -> str:
        return f"SpecialistSaid(agent={self.agent!r})"


@dataclass(frozen=True, slots=True)
class SpecialistTyped(FromSpecialist):
    """The specialist is typing."""


@dataclass(frozen=True, slots=True)
class SpecialistOffered(FromSpecialist):
    """The specialist suggests turning the chat into a request."""


@dataclass(frozen=True, slots=True)
class SpecialistEnded(FromSpecialist):
    now: float


@dataclass(frozen=True, slots=True)
class SpecialistGone:
    """The specialist's process vanished (expired entry) or their grace period ran out."""

    now: float


Event = (
    UserSaid
    | UserTyped
    | UserFiledRequest
    | UserLeft
    | QueueJoined
    | WaitChecked
    | PositionChanged
    | CardAsked
    | SpecialistJoined
    | SpecialistSaid
    | SpecialistTyped
    | SpecialistOffered
    | SpecialistEnded
    | SpecialistGone
)


# -- effects: what the caller does about it, in order ------------------------------------------


@dataclass(frozen=True, slots=True)
class ToUser:
    frame: out.ServerFrame


@dataclass(frozen=True, slots=True)
class ToSpecialist:
    """Relay to the specialist's process: a message (`text`), typing, or the request filed (`text`
    is its number)."""

    agent: str
    kind: Literal["msg", "typing", "request"]
    text: str = ""

    def __repr__(self) -> str:
        return f"ToSpecialist(agent={self.agent!r}, kind={self.kind!r})"


@dataclass(frozen=True, slots=True)
class Record:
    """Add a line to the in-memory transcript."""

    speaker: Speaker
    text: str

    def __repr__(self) -> str:
        return f"Record(speaker={self.speaker!r})"


@dataclass(frozen=True, slots=True)
class OfferRequest:
    """Show the user the request the chat would become (`no_specialist`)."""

    reason: out.OfferReason


@dataclass(frozen=True, slots=True)
class TellEnded:
    """Tell the user the chat ended, with the request it would become."""

    reason: Literal["specialist_ended"]


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the specialists' process that asked: `ok`, with the intake (`intake`: name, phone,
    question, account) or the queue card (`card`: name and question)."""

    with_: Literal["ok", "intake", "card"] = "ok"


@dataclass(frozen=True, slots=True)
class LeaveQueue:
    """Delete the queue entry (how the specialist learns the user left) and give the seats back."""


@dataclass(frozen=True, slots=True)
class Emit:
    """A content-free statistics event."""

    data: ChatEventData


Effect = ToUser | ToSpecialist | Record | OfferRequest | TellEnded | Reply | LeaveQueue | Emit
