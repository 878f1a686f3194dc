"""Settings of the tickets service (`HELPDESK_TICKETS_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_TICKETS_", extra="ignore", frozen=True)

    port: int = 8701
