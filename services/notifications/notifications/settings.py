"""Settings of the notifications service (`HELPDESK_NOTIFICATIONS_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.eventstore import persistence_env
from shared.settings import PLACEHOLDER_SECRETS, InsecureSettingsError, ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_NOTIFICATIONS_", extra="ignore", frozen=True)

    port: int = 8702
    # Store: SQLite at <data_dir>/notifications.sqlite unless a PostgreSQL DSN is given.
    postgres_dsn: SecretStr | None = None
    postgres_schema: str = Field(default="", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$|^$", max_length=63)
    # "Remind later" without a chosen time, and the longest snooze accepted.
    default_snooze_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    longest_snooze_days: int = Field(default=30, ge=1, le=365)
    # Where "view fully" sends the browser; `{ticket_number}` and `{ticket_id}` are filled in.
    ticket_path_template: str = "/help/requests/{ticket_number}"
    max_message_length: int = Field(default=4000, ge=1, le=20000)
    # Tickets stream consumer: redeliveries with back-off, then the dead-letter subject.
    consumer_max_deliver: int = Field(default=5, ge=1, le=100)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0, le=3600)
    consumer_backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0])
    # On shutdown, how long the ticket event in flight may take before the consumer is cancelled
    # (it is then redelivered after `consumer_ack_wait_seconds`; applying it again changes nothing).
    consumer_graceful_stop_seconds: float = Field(default=10.0, gt=0, le=300)
    # Polling intervals (SQLite has no subscription; the relay is also woken by local commits).
    relay_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    # PostgreSQL: the relay and the view follower wake on the store's NOTIFY; they still poll this
    # rarely, in case a notification is lost while the listening connection reconnects.
    postgres_listen: bool = True
    listen_fallback_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    # How often the active-popups view follows the store and due snoozes are recorded as due again.
    due_scan_seconds: float = Field(default=1.0, gt=0, le=60)
    # Run the relay (store → POPUPS stream) in this process: every replica may, the one holding the
    # stream's lease publishes (the header chain would make a second one harmless anyway).
    run_relay: bool = True
    # Stream tokens (`?access_token=` for EventSource): their lifetime, and the key that signs them.
    # Without a secret the key is derived from the HS256 bearer secret; with RS256 bearer tokens every
    # replica needs this shared secret (refused in production when missing).
    stream_token_seconds: int = Field(default=60, ge=5, le=600)
    stream_token_secret: SecretStr | None = None
    # SSE
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    sse_queue_size: int = Field(default=256, ge=1, le=10000)
    # A reconnect that missed more than this many store events gets a "reset" instead of a replay.
    sse_resume_scan_limit: int = Field(default=5000, ge=1)
    # Fault injection for the kill tests only: wait this long between a message's effect and its ack.
    chaos_ack_delay_seconds: float = Field(default=0.0, ge=0, le=600)

    @model_validator(mode="after")
    def _no_fault_injection_in_production(self) -> Self:
        if self.common.is_production and self.chaos_ack_delay_seconds:
            raise InsecureSettingsError("HELPDESK_NOTIFICATIONS_CHAOS_ACK_DELAY_SECONDS is for tests only")
        return self

    @model_validator(mode="after")
    def _stream_tokens_signed_with_a_shared_secret_in_production(self) -> Self:
        if not self.common.is_production:
            return self
        secret = self.stream_token_secret.get_secret_value() if self.stream_token_secret else ""
        if self.stream_token_secret is None and self.common.jwt_algorithm != "HS256":
            raise InsecureSettingsError(
                "RS256 needs HELPDESK_NOTIFICATIONS_STREAM_TOKEN_SECRET (shared by replicas)"
            )
        if self.stream_token_secret is not None and (
            len(secret) < 32 or secret.strip().lower() in PLACEHOLDER_SECRETS
        ):
            raise InsecureSettingsError(
                "HELPDESK_NOTIFICATIONS_STREAM_TOKEN_SECRET must be a real secret of 32+ characters"
            )
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.common.data_dir / "notifications.sqlite"

    def store_env(self, *, create_tables: bool) -> dict[str, str]:
        """The eventsourcing environment of this service's store."""
        if self.postgres_dsn is None:
            return persistence_env(self.sqlite_path, create_table=create_tables)
        dsn = self.postgres_dsn.get_secret_value()
        return persistence_env(dsn, schema=self.postgres_schema, create_table=create_tables)
