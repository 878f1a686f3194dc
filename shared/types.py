"""Annotated aliases for the identifiers and the text every service passes around."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

# Control characters break PostgreSQL `text` (NUL), terminals and many clients; lone surrogates cannot
# be encoded as UTF-8 at all. Tab and newline are text, and CR only as part of a CRLF line break.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]|\r(?!\n)")


def _checked_text(value: object) -> object:
    found = _NOT_TEXT.search(value) if isinstance(value, str) else None
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "control character U+{code} at position {position}: only tab, newline and CRLF are allowed",
            {"code": f"{ord(found.group()[0]):04X}", "position": found.start()},
        )
    return value


TextOnly = BeforeValidator(_checked_text)
"""Annotated metadata for any text a person typed (a comment, a message, a title, a query): control
characters other than tab, newline and CRLF are a 422 naming the field. Put length limits before it,
`Annotated[str, Field(max_length=200), TextOnly]` (or `Form(...)`, `Query(...)`), so they are checked as
a string's: after it, pydantic checks them as a generic value's and words its error so."""

Text = Annotated[str, TextOnly]
"""Text with no length limit of its own (see `TextOnly`)."""


AccountId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"),
    Field(description="One hotel account (tenant)."),
]
UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=128), TextOnly, Field(description="Token subject.")
]
TicketId = Annotated[UUID, Field(description="The ticket aggregate's id.")]
TicketNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=32), TextOnly, Field(description="e.g. HD-000123")
]
EventId = Annotated[UUID, Field(description="Stable public event id, also the Nats-Msg-Id.")]
