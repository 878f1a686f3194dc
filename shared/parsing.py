"""Numbers read from headers, query strings and cursors by hand, parsed in one place.

`str.isdigit()` is true for `²` or `٣`, which `int()` then refuses or reads as another number, and
`int()` also takes signs, spaces and underscores: only ASCII digits, at most 2^63 - 1 (so every value
fits a signed 64-bit column), are a number here. Anything else is a 422 in the shared error shape
naming where the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from shared.errors import ErrorDetail, Unprocessable

MAX_DIGITS: Final = 19
BIGINT_MAX: Final = 2**63 - 1
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def natural(text: str) -> int | None:
    """`text` as a whole number of ASCII digits (0 to 2^63 - 1), or None when it is anything else."""
    if _DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= BIGINT_MAX else None


def _invalid(loc: list[str | int], message: str, kind: str) -> Unprocessable:
    return Unprocessable(message, details=[ErrorDetail(loc=loc, msg=message, type=kind)])


def number_in(text: str, *, loc: list[str | int], what: str = "a whole number") -> int:
    """`text` (surrounding spaces allowed) as `natural` reads it, else a 422 on `loc`."""
    value = natural(text.strip())
    if value is None:
        raise _invalid(loc, f"{loc[-1]} must be {what} (ASCII digits, at most {MAX_DIGITS})", "number")
    return value


def expected_version(header: str | None) -> int | None:
    """The version an `If-Match` header names, the one a change is based on: `"5"`, `5` or `W/"5"`
    → 5. None (no precondition: any version) when there is no header or it is `*`. Anything else (a
    list, an empty tag, `²`) is a 422 on the header."""
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/")
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    value = natural(tag)
    if value is None:
        message = 'If-Match must be a version this API sent, e.g. "5", or *'
        raise _invalid(["header", "If-Match"], message, "if_match")
    return value


def event_id(header: str | None, *, loc: list[str | int]) -> int | None:
    """A `Last-Event-ID` (or its query twin): the position this stream sent; None when absent or blank."""
    if header is None or not header.strip():
        return None
    return number_in(header, loc=loc, what="an id this stream sent")


def preferred_language(accept_language: str | None, supported: Sequence[str], default: str) -> str:
    """The first of `supported` an `Accept-Language` header asks for, by its q-values (`uk-UA` and the
    common mistake `ua` count as `uk`); `default` when it names none of them or is malformed."""
    best, best_q = default, 0.0
    for order, part in enumerate((accept_language or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().lower().replace("_", "-").split("-")[0]
        base = "uk" if base == "ua" else base
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                continue
        q -= order * 1e-6  # equal weights: the earlier one wins
        if base in supported and q > best_q:  # best_q starts at 0: a q of 0 is "not this one"
            best, best_q = base, q
    return best
