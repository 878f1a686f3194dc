"""One JSON error shape for every service, and the FastAPI handlers that produce it.

    {"error": {"code": "not_found", "message": "…", "details": [...], "request_id": "…"}}

Services raise subclasses of `ApiError` (or map their domain errors onto them at the boundary);
validation errors, unknown routes and unexpected exceptions are caught here so a client never sees a
stack trace or a framework-specific body.
"""

from __future__ import annotations

from typing import Any

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
    """Base of every error an HTTP entry point turns into the shared error shape."""

    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(self, message: str | None = None, *, details: list[ErrorDetail] | None = None) -> None:
        self.message = message or self.default_message()
        self.details = details or []
        super().__init__(self.message)

    @classmethod
    def default_message(cls) -> str:
        return cls.code.replace("_", " ")


class BadRequest(ApiError):
    """Raised when a request is well-formed but cannot be acted on as given."""


class Unauthorized(ApiError):
    """Raised when no valid bearer token came with the request."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """Raised when the token is valid but its role may not do this."""

    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    """Raised when the thing does not exist, or belongs to another account (never 403 across tenants)."""

    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    """Raised when the request contradicts the current state (illegal transition, version clash)."""

    status_code = 409
    code = "conflict"


class PreconditionFailed(ApiError):
    """Raised when an `If-Match` version no longer matches."""

    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(ApiError):
    """Raised when a body or file exceeds its size limit, before it is read."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """Raised when a file's sniffed content type is not on the allow-list."""

    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(ApiError):
    """Raised when input fails a rule that pydantic cannot express (e.g. a second file)."""

    status_code = 422
    code = "validation_error"


class TooManyRequests(ApiError):
    """Raised when a client exceeds a rate limit; `Retry-After` says in how many seconds to try again."""

    status_code = 429
    code = "rate_limited"

    def __init__(
        self, message: str | None = None, *, retry_after: int = 1, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(ApiError):
    """Raised when a dependency (NATS, the store) does not answer, or the process is shutting down."""

    status_code = 503
    code = "unavailable"


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


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


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of `app` answer in the shared shape with the right status code."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else exc.headers
        return json_error(
            request,
            status=exc.status_code,
            code=exc.code,
            message=exc.message,
            details=exc.details,
            headers=headers,
        )

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
