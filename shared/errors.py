"""One JSON error shape for every service, and the FastAPI handlers that produce it.

    {"error": {"code": "not_found", "message": "…", "details": [...], "request_id": "…"}}

Services raise subclasses of `ApiError`, or map their domain errors onto them once, at the boundary:
each declares an `ErrorMapping` beside its entry points and its composition root registers it with
`install_error_mapping`;
validation errors, unknown routes and unexpected exceptions are caught here so a client never sees a
stack trace or a framework-specific body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logging import get_logger


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(
        default_factory=list, description="Where the problem is, e.g. ['body', 'topic']."
    )
    msg: str
    type: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable, machine-readable error code.")
    message: str = Field(description="Human-readable summary.")
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    """Base of every error an HTTP entry point turns into the shared error shape.

    A subclass names its status and code in its header: `class NotFound(ApiError, status=404,
    code="not_found")`."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    headers: dict[str, str] | None = None

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str | None = None, *, details: list[ErrorDetail] | None = None) -> None:
        self.message = message or self.default_message()
        self.details = details or []
        super().__init__(self.message)

    @classmethod
    def default_message(cls) -> str:
        return cls.code.replace("_", " ")


class BadRequest(ApiError):
    """Raised when a request is well-formed but cannot be acted on as given."""


class Unauthorized(ApiError, status=401, code="unauthorized"):
    """Raised when no valid bearer token came with the request."""


class Forbidden(ApiError, status=403, code="forbidden"):
    """Raised when the token is valid but its role may not do this."""


class NotFound(ApiError, status=404, code="not_found"):
    """Raised when the thing does not exist, or belongs to another account (never 403 across tenants)."""


class Conflict(ApiError, status=409, code="conflict"):
    """Raised when the request contradicts the current state (illegal transition, version clash)."""


class PreconditionFailed(ApiError, status=412, code="precondition_failed"):
    """Raised when an `If-Match` version no longer matches."""


class PayloadTooLarge(ApiError, status=413, code="payload_too_large"):
    """Raised when a body or file exceeds its size limit, before it is read."""


class UnsupportedMediaType(ApiError, status=415, code="unsupported_media_type"):
    """Raised when a file's sniffed content type is not on the allow-list."""


class Unprocessable(ApiError, status=422, code="validation_error"):
    """Raised when input fails a rule that pydantic cannot express (e.g. a second file)."""


class TooManyRequests(ApiError, status=429, code="rate_limited"):
    """Raised when a client exceeds a rate limit; `Retry-After` says in how many seconds to try again."""

    def __init__(
        self, message: str | None = None, *, retry_after: int = 1, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(ApiError, status=503, code="unavailable"):
    """Raised when a dependency (NATS, the store) does not answer, or the process is shutting down."""


SHARED_ERRORS: tuple[type[ApiError], ...] = (
    *(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed, PayloadTooLarge),
    *(UnsupportedMediaType, Unprocessable, TooManyRequests, ServiceUnavailable),
)
# The code of a framework error (`HTTPException`) by its status: the errors above, and three more.
_STATUS_CODES = {
    **{error.status_code: error.code for error in SHARED_ERRORS},
    405: "method_not_allowed",
    406: "not_acceptable",
    411: "length_required",
}

# A service's domain exception → the shared error it answers with (`install_error_mapping`).
ErrorMapping = Mapping[type[Exception], Callable[[Any], ApiError]]


def with_message(error: type[ApiError]) -> Callable[[Exception], ApiError]:
    """The factory of an `error` whose message is the domain exception's own."""
    return lambda exc: error(str(exc))


def api_error_for(exc: Exception, mapping: ErrorMapping) -> ApiError | None:
    """The shared error of `exc` by the most specific of its classes `mapping` names, or None."""
    for cls in type(exc).__mro__:
        factory = mapping.get(cls)
        if factory is not None:
            return factory(exc)
    return None


def error_body(
    *, code: str, message: str, details: list[ErrorDetail] | None = None, request_id: str | None = None
) -> dict[str, Any]:
    return ErrorBody(
        error=ErrorInfo(code=code, message=message, details=details or [], request_id=request_id)
    ).model_dump(mode="json")


def details_from_validation(errors: Any) -> list[ErrorDetail]:
    """Pydantic's error list without `input` and `ctx` (they may echo secrets or huge bodies)."""
    out = []
    for err in errors:
        loc = [part if isinstance(part, int) else str(part) for part in err.get("loc", ())]
        out.append(
            ErrorDetail(loc=loc, msg=str(err.get("msg", "invalid")), type=str(err.get("type", "invalid")))
        )
    return out


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def json_error(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code=code, message=message, details=details, request_id=_request_id(request)),
        status_code=status,
        headers=headers,
    )


def api_error_response(request: Request, error: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else error.headers
    return json_error(
        request,
        status=error.status_code,
        code=error.code,
        message=error.message,
        details=error.details,
        headers=headers,
    )


def install_error_mapping(app: FastAPI, mapping: ErrorMapping) -> None:
    """Answer every exception class of `mapping` (and its subclasses) with the shared error its
    factory builds: a service's one translation of its domain errors, registered once on its app."""

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        error = api_error_for(exc, mapping)
        if error is None:  # never: only the mapped classes reach this handler
            raise exc
        return api_error_response(request, error)

    for exc_type in mapping:
        app.add_exception_handler(exc_type, on_domain_error)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of `app` answer in the shared shape with the right status code."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return api_error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return json_error(
            request,
            status=422,
            code="validation_error",
            message="the request is not valid",
            details=details_from_validation(exc.errors()),
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error" if exc.status_code >= 500 else "bad_request")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return json_error(
            request, status=exc.status_code, code=code, message=message, headers=dict(exc.headers or {})
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        get_logger(__name__).error("unhandled_error", path=request.url.path, exc_info=exc)
        return json_error(
            request, status=500, code="internal_error", message="something went wrong on our side"
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
