"""Domain and application errors → the shared error shape: the notifications service's one mapping,
registered on the app by the composition root (`shared.errors.install_error_mapping`)."""

from __future__ import annotations

from notifications.application.service import ConcurrentChange
from notifications.domain.errors import IdempotencyKeyReused, IllegalTransition, InvalidSnooze, PopupNotFound
from shared.errors import ApiError, Conflict, ErrorDetail, ErrorMapping, NotFound, Unprocessable, with_message
from shared.idempotency import HEADER


def _key_reused(exc: IdempotencyKeyReused) -> ApiError:
    detail = ErrorDetail(loc=["header", HEADER], msg=str(exc), type="value_error")
    return Unprocessable(str(exc), details=[detail])


POPUP_ERRORS: ErrorMapping = {
    PopupNotFound: lambda _: NotFound("no such popup"),
    IllegalTransition: with_message(Conflict),
    InvalidSnooze: with_message(Unprocessable),
    IdempotencyKeyReused: _key_reused,
    ConcurrentChange: lambda _: Conflict("the popup is changing; try again"),
}
