"""The frames users and specialists send, as strict pydantic models: one discriminated union on
`type` per endpoint (protocol in `chat.entrypoints.ws`).

Strict: a string field takes a JSON string only (`"phone": ["+380…"]` is refused, never turned into
text), an integer an integer (not `true`, not `"3"`). Text refuses control characters other than tab
and newline (`shared.types.TextOnly`) and every field has an upper bound of its own besides the
frame's byte limit; the limits that are settings (`max_message_chars`) come in the validation
context. The intake's own rules (a name and a question required, their configured lengths, a valid
phone number) stay with `chat.domain.intake`, which words them for the form's fields.

A refused frame becomes one `FrameRefused` naming the first field at fault; the connection goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from chat.domain.errors import ChatError
from shared.types import TextOnly

T = TypeVar("T")

# Upper bounds whatever the settings say (each is the most its setting allows).
MAX_NAME_CHARS = 1000
MAX_PHONE_CHARS = 64
MAX_QUESTION_CHARS = 10_000
MAX_MESSAGE_CHARS = 100_000
MAX_TOPIC_CHARS = 64
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """The limits that are settings, passed to validation as its context."""

    max_message_chars: int = 2000

    def context(self) -> dict[str, int]:
        return {"max_message_chars": self.max_message_chars}


class FrameRefused(ChatError):
    """Raised when a frame does not fit its type's model: `field` names the field at fault."""

    code = "bad_frame"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _configured(setting: str) -> AfterValidator:
    """At most the `setting` characters given in the validation context."""

    def check(value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        limit = context.get(setting, getattr(FrameLimits(), setting))
        if len(value) > limit:
            raise PydanticCustomError(
                "string_too_long", "should have at most {max_length} characters", {"max_length": limit}
            )
        return value

    return AfterValidator(check)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "should not be empty")
    return value


def _bounded(limit: int) -> Any:
    return Field(max_length=limit)


# Checked in this order: a string, within its hard bound, text only, then the configured rules.
IntakeText = Annotated[str, _bounded(MAX_QUESTION_CHARS), TextOnly]
Name = Annotated[str, _bounded(MAX_NAME_CHARS), TextOnly]
Phone = Annotated[str, _bounded(MAX_PHONE_CHARS), TextOnly]
Message = Annotated[
    str, _bounded(MAX_MESSAGE_CHARS), TextOnly, AfterValidator(_not_blank), _configured("max_message_chars")
]
Topic = Annotated[str, Field(min_length=1, max_length=MAX_TOPIC_CHARS), TextOnly, AfterValidator(_not_blank)]
SessionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
Importance = Literal["low", "normal", "high", "critical"]


class _Frame(BaseModel):
    # Fields a newer client may add are ignored; the ones we know must have exactly their type.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Ping(_Frame):
    type: Literal["ping"]


class Auth(_Frame):
    """The first frame on either endpoint (see `chat.entrypoints.connection`)."""

    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]

    def __repr__(self) -> str:  # a bearer token never reaches a log line
        return "Auth(<redacted>)"


# -- user → server -----------------------------------------------------------------------------


TopicId = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class StartChat(_Frame):
    type: Literal["start"]
    name: Name = ""
    phone: Phone = ""
    question: IntakeText = ""
    # The support topic the question is about (the directory's topic id); chat routes by it.
    topic: TopicId | None = None

    def __repr__(self) -> str:  # the intake never reaches a log line
        return "StartChat(<redacted>)"


class UserMessage(_Frame):
    type: Literal["message"]
    text: Message

    def __repr__(self) -> str:
        return "UserMessage(<redacted>)"


class UserTyping(_Frame):
    type: Literal["typing"]


class CreateRequest(_Frame):
    type: Literal["create_request"]
    topic: Topic | None = None
    importance: Importance | None = None


UserFrame = Annotated[
    StartChat | UserMessage | UserTyping | CreateRequest | Ping, Field(discriminator="type")
]


# -- specialist → server -----------------------------------------------------------------------


class Available(_Frame):
    type: Literal["available"]
    capacity: Annotated[int, Field(ge=1, le=1000)] | None = None
    auto: bool = True
    # The support teams this specialist answers for (their topics' chats come to them first).
    teams: Annotated[list[TopicId], Field(max_length=20)] | None = None  # team ids: the same slugs


class Away(_Frame):
    type: Literal["away"]


class Take(_Frame):
    type: Literal["take"]
    session: SessionId


class OfferRequest(_Frame):
    type: Literal["offer_request"]
    session: SessionId


class AgentMessage(_Frame):
    type: Literal["message"]
    session: SessionId
    text: Message

    def __repr__(self) -> str:
        return "AgentMessage(<redacted>)"


class AgentTyping(_Frame):
    type: Literal["typing"]
    session: SessionId


class EndChat(_Frame):
    type: Literal["end"]
    session: SessionId


AgentFrame = Annotated[
    Available | Away | Take | OfferRequest | AgentMessage | AgentTyping | EndChat | Ping,
    Field(discriminator="type"),
]

_AUTH: TypeAdapter[Auth] = TypeAdapter(Auth)
_USER: TypeAdapter[UserFrame] = TypeAdapter(UserFrame)
_AGENT: TypeAdapter[AgentFrame] = TypeAdapter(AgentFrame)


def parse_auth_frame(data: dict[str, Any]) -> Auth:
    return _parse(_AUTH, data, FrameLimits())


def parse_user_frame(data: dict[str, Any], limits: FrameLimits) -> UserFrame:
    return _parse(_USER, data, limits)


def parse_agent_frame(data: dict[str, Any], limits: FrameLimits) -> AgentFrame:
    return _parse(_AGENT, data, limits)


def _parse(adapter: TypeAdapter[T], data: dict[str, Any], limits: FrameLimits) -> T:
    try:
        return adapter.validate_python(data, strict=True, context=limits.context())
    except ValidationError as exc:
        raise refusal(exc) from None


def refusal(exc: ValidationError) -> FrameRefused:
    """The first error, worded without the input (a frame's text never goes into a message)."""
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        return FrameRefused("type", "unknown frame type")
    # The first location is the union's tag (the frame type); the field follows it.
    path = [str(part) for part in error["loc"][1:]] or ["type"]
    field = ".".join(path)
    return FrameRefused(field, f'"{field}": {error["msg"][:1].lower()}{error["msg"][1:]}')
