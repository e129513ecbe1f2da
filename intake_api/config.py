"""The intake's settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from intake_api.similarity import DEFAULT_THRESHOLD


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", env_file=".env", extra="ignore")

    # How alike two texts must be (bigram Jaccard, 0–1) to be the same matter.
    repeat_similarity_threshold: float = DEFAULT_THRESHOLD
    # How many earlier petitions of the same person, category and place to compare.
    repeat_candidates: int = 20
    attachment_max_file_kib: int = 512
    attachment_max_total_kib: int = 700
