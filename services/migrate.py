"""Alembic, driven from code: `xinfang migrate` and the tests use this."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from shared.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raises if the models and the migrated schema differ (`alembic check`)."""
    command.check(alembic_config(database_url))
