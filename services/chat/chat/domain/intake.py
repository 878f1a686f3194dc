"""What a user opens a chat with: a name, a contact phone (normalised to E.164) and a short question."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from chat.domain.errors import InvalidIntake


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_name_chars: int = 100
    max_question_chars: int = 500
    default_region: str = "UA"


@dataclass(frozen=True, slots=True)
class Intake:
    """Held only in the memory of the user's chat process; never in the KV bucket, a log or a metric."""

    name: str
    phone: str  # E.164
    question: str

    def __repr__(self) -> str:  # keeps the phone and the question out of any accidental log line
        return "Intake(<redacted>)"


def normalise_phone(raw: str, *, default_region: str) -> str:
    """The number in E.164 (`+380441234567`), or `InvalidIntake` if it is not a valid number."""
    text = raw.strip()
    if not text or len(text) > 32:
        raise InvalidIntake("phone", "the phone number is not valid")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        raise InvalidIntake("phone", "the phone number is not valid") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIntake("phone", "the phone number is not valid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _bounded_text(field: str, value: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidIntake(field, f"the {field} is required")
    if len(text) > limit:
        raise InvalidIntake(field, f"the {field} is longer than {limit} characters")
    return text


def make_intake(*, name: str, phone: str, question: str, limits: IntakeLimits) -> Intake:
    """Validate and normalise what the user typed into the chat form."""
    return Intake(
        name=_bounded_text("name", name, limits.max_name_chars),
        phone=normalise_phone(phone, default_region=limits.default_region),
        question=_bounded_text("question", question, limits.max_question_chars),
    )
