"""The reporting service's settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", env_file=".env", extra="ignore")

    # A petition raised again on the same matter within this many days of its reply
    # was not resolved the first time (一次性化解率).
    repeat_window_days: int = Field(default=90, ge=1, le=3650)
