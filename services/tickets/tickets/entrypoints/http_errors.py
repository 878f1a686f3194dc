"""Domain and adapter errors → the shared error shape (one place, registered on the app)."""

from __future__ import annotations

from eventsourcing.persistence import OperationalError, PersistenceError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError

from shared.errors import (
    ApiError,
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
    json_error,
)
from tickets.adapters.attachments import (
    AttachmentError,
    AttachmentMissing,
    EmptyFile,
    FileTooLarge,
    UnsupportedFileType,
)
from tickets.application.batching import ServiceStopping
from tickets.domain.errors import (
    AttachmentNotFound,
    InvalidInput,
    NotAllowed,
    TicketConflict,
    TicketError,
    TicketNotFound,
    VersionMismatch,
)


def to_api_error(exc: Exception) -> ApiError:
    """The shared error an exception of the tickets service answers with."""
    match exc:
        case TicketNotFound() | AttachmentNotFound() | AttachmentMissing():
            return NotFound(str(exc))
        case InvalidInput():
            loc: list[str | int] = ["header" if exc.field == "Idempotency-Key" else "body", exc.field]
            return Unprocessable(str(exc), details=[ErrorDetail(loc=loc, msg=str(exc), type="value_error")])
        case EmptyFile():
            return Unprocessable(
                str(exc), details=[ErrorDetail(loc=["body", "file"], msg=str(exc), type="empty")]
            )
        case NotAllowed():
            return Forbidden(str(exc))
        case VersionMismatch():
            return PreconditionFailed(str(exc))
        case TicketConflict():
            return Conflict(str(exc))
        case FileTooLarge():
            return PayloadTooLarge(str(exc))
        case UnsupportedFileType():
            return UnsupportedMediaType(str(exc))
        case OperationalError() | PersistenceError() | ServiceStopping():
            return ServiceUnavailable("the ticket store is not available; try again")
        case NatsError():
            # The attachments object store (JetStream) timed out, e.g. while a NATS node is lost.
            return ServiceUnavailable("the file store is not available; try again")
        case ApiError():
            return exc
    raise exc


def install_ticket_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = to_api_error(exc)
        return json_error(
            request, status=error.status_code, code=error.code, message=error.message, details=error.details
        )

    for exc_type in (TicketError, AttachmentError, OperationalError, ServiceStopping, NatsError):
        app.add_exception_handler(exc_type, handle)
