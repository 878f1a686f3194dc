"""Settings of the kb-search service (`HELPDESK_KB_SEARCH_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class KbSearchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_KB_SEARCH_", extra="ignore", frozen=True)

    port: int = 8704
