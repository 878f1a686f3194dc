"""Domain and adapter errors → the shared error shape: the tickets service's one mapping, registered
on the app by the composition root (`shared.errors.install_error_mapping`)."""

from __future__ import annotations

from eventsourcing.persistence import OperationalError
from nats.errors import Error as NatsError

from shared.errors import (
    ApiError,
    Conflict,
    ErrorDetail,
    ErrorMapping,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
    with_message,
)
from tickets.adapters.attachments import (
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
    TicketNotFound,
    VersionMismatch,
)


def _invalid_input(exc: InvalidInput) -> ApiError:
    loc: list[str | int] = ["header" if exc.field == "Idempotency-Key" else "body", exc.field]
    return Unprocessable(str(exc), details=[ErrorDetail(loc=loc, msg=str(exc), type="value_error")])


def _empty_file(exc: EmptyFile) -> ApiError:
    return Unprocessable(str(exc), details=[ErrorDetail(loc=["body", "file"], msg=str(exc), type="empty")])


def _store_unavailable(_: Exception) -> ApiError:
    return ServiceUnavailable("the ticket store is not available; try again")


def _file_store_unavailable(_: Exception) -> ApiError:
    # The attachments object store (JetStream) timed out, e.g. while a NATS node is lost.
    return ServiceUnavailable("the file store is not available; try again")


# The most specific class of an exception that is named here decides its answer.
TICKET_ERRORS: ErrorMapping = {
    TicketNotFound: with_message(NotFound),
    AttachmentNotFound: with_message(NotFound),
    AttachmentMissing: with_message(NotFound),
    InvalidInput: _invalid_input,
    EmptyFile: _empty_file,
    NotAllowed: with_message(Forbidden),
    VersionMismatch: with_message(PreconditionFailed),
    TicketConflict: with_message(Conflict),
    FileTooLarge: with_message(PayloadTooLarge),
    UnsupportedFileType: with_message(UnsupportedMediaType),
    OperationalError: _store_unavailable,
    ServiceStopping: _store_unavailable,
    NatsError: _file_store_unavailable,
}
