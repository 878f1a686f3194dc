"""Settings of the tickets service (`HELPDESK_TICKETS_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

MIB = 1024 * 1024

# The topics' ids and English names as they were before the support directory (`seed/directory.json`,
# changed through its admin API) took them over: kept only as fallback labels for views built without
# the directory, and as the benchmarks' topic ids. What a request may be filed under is the directory's.
DEFAULT_TOPICS = {
    "bookings": "Bookings and reservations",
    "channel-manager": "Channel manager",
    "payments": "Payments and invoices",
    "reports": "Reports",
    "users": "Users and access",
    "integrations": "Integrations",
    "bug": "Bug report",
    "feature": "Feature request",
    "chat": "From a chat conversation",  # what the chat service files a conversation under
    "other": "Other",
}


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_TICKETS_", extra="ignore", frozen=True)

    port: int = 8701
    # Event store: PostgreSQL when a DSN is given (production), else SQLite in <data_dir>/tickets.sqlite.
    postgres_dsn: SecretStr | None = None
    postgres_schema: str = Field(default="", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$|^$", max_length=63)
    postgres_pool_size: int = Field(default=5, ge=1, le=100)
    # Attachments: the per-file cap, and what the text fields of a form may add around the file.
    max_file_bytes: int = Field(default=20 * MIB, ge=1, le=1024 * MIB)
    max_form_overhead_bytes: int = Field(default=256 * 1024, ge=1024)
    attachments_bucket: str = Field(default="ticket-attachments", pattern=r"^[A-Za-z0-9_-]+$")
    # Commands committed per store transaction at most (they are batched while one runs).
    max_batch: int = Field(default=256, ge=1, le=5000)
    # Run the outbox relay and the history projection inside this process (one active relay).
    run_relay: bool = True
    run_projection: bool = True
    # Check support's first-response promises this often; a passed one is recorded once as a breach
    # (an event and a metric). Any number of processes may run it.
    run_breach_checker: bool = True
    breach_check_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Support's live stream (`GET /api/v1/tickets/stream`): SSE comment lines this often; a reconnect
    # replays at most this many stream messages after its Last-Event-ID (else it is told to reload);
    # a reader this many events behind is disconnected (it reconnects and is replayed).
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    stream_replay_max: int = Field(default=1000, ge=0, le=100_000)
    stream_queue_size: int = Field(default=256, ge=1, le=10_000)
    # /metrics of `python -m tickets.relay` / `tickets.projector` (they serve no other HTTP); off when unset.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @property
    def max_upload_bytes(self) -> int:
        """The largest request body a form with one file may have (checked before it is read)."""
        return self.max_file_bytes + self.max_form_overhead_bytes
