"""One Alembic history for SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

from sqlalchemy import inspect

from services.migrate import check
from services.tables import metadata
from shared.db import make_engine


def test_migrations_reach_head_and_match_the_models(db_url: str) -> None:
    check(db_url)  # raises when `alembic check` finds a difference
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables
