"""Settings of the chat service (`HELPDESK_CHAT_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_CHAT_", extra="ignore", frozen=True)

    port: int = 8703
