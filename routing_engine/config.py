"""Where the routing engine finds its ruleset."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RULESET = Path(__file__).resolve().parent / "rulesets" / "default.json"


class RoutingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", env_file=".env", extra="ignore")

    ruleset_file: Path = DEFAULT_RULESET
