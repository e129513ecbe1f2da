"""Alembic's environment: one migration history for SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from services.tables import metadata
from shared.config import DatabaseSettings
from shared.db import make_engine

config = context.config
url = config.attributes.get("database_url") or DatabaseSettings().database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
