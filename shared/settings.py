"""Typed settings: one `CommonSettings` read from `HELPDESK_*`, one subclass of `ServiceSettings` per
service read from `HELPDESK_<SERVICE>_*`.

Settings are built in each service's composition root (never at import); tests build them with
keyword arguments instead of environment variables.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The public development default: long enough for HS256, and refused in production like the others.
DEV_JWT_SECRET = "otelms-helpdesk-development-secret-not-for-production"  # noqa: S105
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "dev-secret",
        "development-secret",
        "password",
        "please-change",
        DEV_JWT_SECRET,
    }
)


ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Raised when production settings carry a placeholder secret or a development-only switch."""


class RateLimitSettings(BaseSettings):
    """Request limits (`HELPDESK_RATE_LIMIT_*`), shared by every replica through NATS (`shared.ratelimit`).

    Counted limits are per `window_seconds`, for each hotel user (`*_per_user`, a user of one account)
    and for the whole account (`*_per_account`); `streams_*` count open SSE streams instead. 0 turns
    one limit off. Support roles (agent, editor) never spend a hotel's budget: each specialist has
    `staff_per_user` per action and window (0: unlimited), and `message_per_account` caps what support
    sends to one account. Defaults are far above what a person does; load tests raise them.
    """

    model_config = SettingsConfigDict(env_prefix="HELPDESK_RATE_LIMIT_", extra="ignore", frozen=True)

    enabled: bool = True
    window_seconds: int = Field(default=60, ge=1, le=3600)
    create_per_user: int = Field(default=60, ge=0)
    create_per_account: int = Field(default=600, ge=0)
    reply_per_user: int = Field(default=120, ge=0)
    reply_per_account: int = Field(default=1200, ge=0)
    upload_per_user: int = Field(default=60, ge=0)
    upload_per_account: int = Field(default=600, ge=0)
    # Search, suggest (as the user types) and deflect together.
    faq_per_user: int = Field(default=600, ge=0)
    faq_per_account: int = Field(default=6000, ge=0)
    chat_start_per_user: int = Field(default=20, ge=0)
    chat_start_per_account: int = Field(default=200, ge=0)
    # Messages support sends to one account (as popups), whoever sends them.
    message_per_account: int = Field(default=300, ge=0)
    staff_per_user: int = Field(default=3000, ge=0)
    # Open popup streams (SSE) at once: a tab each.
    streams_per_user: int = Field(default=20, ge=0)
    streams_per_account: int = Field(default=500, ge=0)
    # An open stream's slot is refreshed every third of this; a crashed process's slots free after it.
    stream_lease_seconds: int = Field(default=30, ge=1, le=3600)
    # Longest wait for NATS on a limited request before it is let through (fail open).
    timeout_seconds: float = Field(default=0.5, gt=0, le=10)


class CommonSettings(BaseSettings):
    """Settings every service shares: environment, NATS, auth, logging (`HELPDESK_*`)."""

    # `validate_by_name`: fields with an alias (the standard OpenTelemetry variable) still take
    # keyword arguments by their name in tests.
    model_config = SettingsConfigDict(
        env_prefix="HELPDESK_", extra="ignore", frozen=True, validate_by_name=True, validate_by_alias=True
    )

    environment: Environment = Environment.DEVELOPMENT
    # NATS
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_creds_file: Path | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    # Prepended to every subject, stream, consumer and bucket name this product uses. Empty in
    # production; tests set a unique one so they can share one nats-server without interfering.
    nats_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$", max_length=32)
    # Auth: HS256 with a shared secret in development; RS256 with a JWKS URL or a PEM in production.
    jwt_algorithm: str = Field(default="HS256", pattern=r"^(HS256|RS256)$")
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_public_key_pem: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str = "otelms-helpdesk"
    jwt_issuer: str = "otelms"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The longest wait for the JWKS server; while it does not answer, the keys fetched before serve.
    jwt_jwks_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Origins other than the service's own whose pages may call the APIs (CORS), e.g.
    # `["https://pms.example.com"]`. Empty: the widget and the console are served by the gateway, from
    # the APIs' own origin, and need none. Never `*`: the APIs take credentials.
    cors_allow_origins: tuple[str, ...] = ()
    # Logging
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal
    # Traces (`shared/tracing.py`): off unless an OTLP/HTTP endpoint is set, e.g.
    # `http://otel-collector:4318`; the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is read too.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HELPDESK_OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    # The share of traces started here that are recorded; a request that arrives traced keeps its
    # caller's decision (parent-based sampling).
    otel_traces_sampler_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Where embedded SQLite files and the bundled nats-server keep their data.
    data_dir: Path = Path(".data")
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins_are_exact(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not ORIGIN.match(origin):
                raise ValueError(f"{origin!r}: an origin is scheme://host[:port], no path, no wildcard")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Self:
        if not self.is_production:
            return self
        if self.jwt_algorithm == "HS256":
            if self.jwt_secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise InsecureSettingsError(
                    "HELPDESK_JWT_SECRET is a placeholder; set a real secret in production"
                )
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise InsecureSettingsError(
                    "HELPDESK_JWT_SECRET must be at least 32 characters in production"
                )
        elif not (self.jwt_public_key_pem or self.jwt_jwks_url):
            raise InsecureSettingsError("RS256 needs HELPDESK_JWT_PUBLIC_KEY_PEM or HELPDESK_JWT_JWKS_URL")
        for name in ("nats_password", "nats_token"):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise InsecureSettingsError(f"HELPDESK_{name.upper()} is a placeholder")
        return self

    @property
    def dev_tokens_allowed(self) -> bool:
        """Development tokens are signed with the shared HS256 secret; never with a production key."""
        return not self.is_production and self.jwt_algorithm == "HS256"


class ServiceSettings(BaseSettings):
    """Base for one service's settings; subclasses set `env_prefix` to `HELPDESK_<SERVICE>_`."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    common: CommonSettings = Field(default_factory=CommonSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Seconds a SIGTERM waits for in-flight work before the process exits anyway.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=120)
    # `/docs` and `/openapi.json`: None serves them outside production only.
    enable_docs: bool | None = None
    # Serve `/metrics` on this port (Prometheus inside the cluster) instead of the API's port.
    http_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # The HTTP edge (`shared/edge.py`): the largest body a route without its own cap accepts (JSON),
    # the longest wait for the next piece of a body, and for the whole of it (408 after either).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    body_idle_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    body_total_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    # The longest a request's head (request line and headers) may take to arrive (`shared/httpserver.py`).
    head_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    # WebSockets: how often the server pings a socket to find a silent dead client (its pong is awaited
    # as long), and whether a socket may negotiate per-message compression (a browser always offers it).
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0, le=600)
    ws_per_message_deflate: bool = True
    # Run the migration step (streams, buckets, tables) at start-up. Off by default: with several
    # replicas it runs once, as `helpdesk migrate <service>` (a Kubernetes Job), not raced by each.
    migrate_on_start: bool = False

    @property
    def docs_enabled(self) -> bool:
        return self.enable_docs if self.enable_docs is not None else not self.common.is_production

    def production_problems(self) -> list[str]:
        """What keeps these settings from running in production; empty outside production.

        Checked when a process starts (not when settings are built, so tests can build production
        settings piecemeal): a production process never falls back to the embedded SQLite store under
        `data_dir`, nor connects to NATS as an anonymous user.
        """
        common = self.common
        if not common.is_production:
            return []
        problems = []
        prefix = str(self.model_config.get("env_prefix", "HELPDESK_"))
        if "postgres_dsn" in type(self).model_fields and getattr(self, "postgres_dsn", None) is None:
            problems.append(
                f"{prefix}POSTGRES_DSN is not set: production keeps events in PostgreSQL, never in the "
                f"embedded SQLite file under {common.data_dir}"
            )
        has_password = common.nats_user is not None and common.nats_password is not None
        if not (has_password or common.nats_token is not None or common.nats_creds_file is not None):
            problems.append(
                "no NATS credentials: set HELPDESK_NATS_USER and HELPDESK_NATS_PASSWORD (or "
                "HELPDESK_NATS_CREDS_FILE, or HELPDESK_NATS_TOKEN)"
            )
        return problems

    def refuse_to_start_if_undeployable(self, process: str) -> None:
        """Exit with a message naming every missing setting (SystemExit: status 1, text on stderr)."""
        problems = self.production_problems()
        if problems:
            raise SystemExit(
                f"{process} refuses to start in production:\n" + "\n".join(f"  - {p}" for p in problems)
            )
