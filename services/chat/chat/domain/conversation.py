"""The conversation kept in the user's process memory, and the request it may become on request."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from chat.domain.intake import Intake


class Speaker(StrEnum):
    USER = "user"
    SPECIALIST = "specialist"


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """The fields of the tickets service's `POST /api/v1/tickets`, pre-filled from the chat."""

    topic: str
    comment: str
    message: str
    importance: str = "normal"

    def as_form(self) -> dict[str, str]:
        return {
            "topic": self.topic,
            "comment": self.comment,
            "message": self.message,
            "importance": self.importance,
        }


@dataclass
class Transcript:
    """The last `max_lines` lines of one chat; dropped with the session (never written anywhere)."""

    max_lines: int = 200
    _lines: deque[tuple[Speaker, str]] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = deque(maxlen=self.max_lines)

    def add(self, speaker: Speaker, text: str) -> None:
        self._lines.append((speaker, text))

    def __len__(self) -> int:
        return len(self._lines)

    def draft(
        self,
        intake: Intake,
        *,
        topic: str,
        importance: str = "normal",
        max_comment_chars: int = 200,
        max_message_chars: int = 20_000,
    ) -> TicketDraft:
        """The request this chat would become. The phone number stays out: it is not chat text and
        never leaves the chat process (the widget may let the user type it in themselves)."""
        lines = [f"Question: {intake.question}"]
        lines += [f"{'Me' if who is Speaker.USER else 'Support'}: {text}" for who, text in self._lines]
        message = "\n".join(lines)
        if len(message) > max_message_chars:
            message = message[-max_message_chars:]
        return TicketDraft(
            topic=topic,
            comment=intake.question[:max_comment_chars],
            message=message,
            importance=importance,
        )
