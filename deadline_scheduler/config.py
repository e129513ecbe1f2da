"""The scheduler's settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", env_file=".env", extra="ignore")

    # How often the in-process timer runs a sweep; the database decides what is due.
    sweep_seconds: float = 60.0
