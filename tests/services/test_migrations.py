"""One Alembic history for SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

from sqlalchemy import inspect, text

from alembic import command
from services.migrate import alembic_config, check
from services.tables import metadata
from shared.db import make_engine


def test_migrations_reach_head_and_match_the_models(db_url: str) -> None:
    check(db_url)  # raises when `alembic check` finds a difference
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables


def test_urging_notices_and_their_webhook_copies_from_before_the_stage_column_get_their_stage(
    db_url: str,
) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, "0016")
    engine = make_engine(db_url)
    columns = "event_id, petition_id, kind, channel, recipient, subject, body, state, attempts"
    with engine.begin() as conn:
        for i, (kind, subject) in enumerate(
            [
                ("urging", "督办（红色）：受理 期限已过"),
                ("receipt", "您的信访事项已登记"),
                ("webhook", "cn.xinfang.deadline.urged"),
                ("webhook", "cn.xinfang.petition.received"),
            ]
        ):
            conn.execute(
                text(
                    f"INSERT INTO notice ({columns}, created_at, urgent) VALUES "
                    f"('e{i}', 'p', '{kind}', 'inbox', 'unit:x', :subject, '', 'delivered', 1, "
                    "CURRENT_TIMESTAMP, false)"
                ),
                {"subject": subject},
            )
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        stages = dict(conn.execute(text("SELECT subject, stage FROM notice")).all())
    engine.dispose()
    assert stages == {
        "督办（红色）：受理 期限已过": "supervised",
        "您的信访事项已登记": None,
        "cn.xinfang.deadline.urged": "urged",
        "cn.xinfang.petition.received": None,
    }
