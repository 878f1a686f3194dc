"""Settings of the notifications service (`HELPDESK_NOTIFICATIONS_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_NOTIFICATIONS_", extra="ignore", frozen=True)

    port: int = 8702
