"""Domain and application errors → the shared HTTP errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from notifications.application.service import ConcurrentChange
from notifications.domain.errors import IdempotencyKeyReused, IllegalTransition, InvalidSnooze, PopupNotFound
from shared.errors import Conflict, ErrorDetail, NotFound, Unprocessable
from shared.idempotency import HEADER

T = TypeVar("T")


def translated(call: Callable[[], T]) -> Callable[[], T]:
    """Wrap a blocking command so its domain errors leave as `shared.errors` (run in a thread)."""

    def run() -> T:
        try:
            return call()
        except PopupNotFound:
            raise NotFound("no such popup") from None
        except IllegalTransition as exc:
            raise Conflict(str(exc)) from None
        except InvalidSnooze as exc:
            raise Unprocessable(str(exc)) from None
        except IdempotencyKeyReused as exc:
            detail = ErrorDetail(loc=["header", HEADER], msg=str(exc), type="value_error")
            raise Unprocessable(str(exc), details=[detail]) from None
        except ConcurrentChange:
            raise Conflict("the popup is changing; try again") from None

    return run
