"""the trust boundary: petition scopes and parts (who may see what), registered
external systems, webhook owners, an append-only audit of personal-data reads

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import shared.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION personal_data_read_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'personal_data_read is append-only';
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    op.create_table(
        "external_system",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("jurisdiction", sa.String(length=12), nullable=False),
        sa.Column("reads", sa.String(length=20), nullable=False),
        sa.Column("channels", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_external_system")),
    )
    op.create_table(
        "petition_scope",
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("division_code", sa.String(length=12), nullable=False),
        sa.Column("source_system", sa.String(length=100), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("accused_unit", sa.String(length=100), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_petition_scope")),
    )
    op.create_index(
        op.f("ix_petition_scope_division_code"), "petition_scope", ["division_code"], unique=False
    )
    op.create_index(
        "ix_petition_scope_source_ref", "petition_scope", ["source_system", "external_ref"]
    )
    op.create_table(
        "petition_part",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_part")),
        sa.UniqueConstraint(
            "petition_id", "unit_id", "part", name=op.f("uq_petition_part_petition_id_unit_id_part")
        ),
    )
    op.create_index(
        op.f("ix_petition_part_petition_id"), "petition_part", ["petition_id"], unique=False
    )
    op.create_index(
        "ix_petition_part_unit_part", "petition_part", ["unit_id", "part", "petition_id"]
    )
    with op.batch_alter_table("webhook_subscription") as batch:
        batch.add_column(sa.Column("owner_unit", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("owner_system", sa.String(length=100), nullable=True))
    with op.batch_alter_table("personal_data_read") as batch:
        batch.add_column(sa.Column("credential_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "action", sa.String(length=20), nullable=False, server_default="personal_data"
            )
        )
        batch.create_index(batch.f("ix_personal_data_read_credential_id"), ["credential_id"])
        batch.create_index(batch.f("ix_personal_data_read_reader"), ["reader"])
        batch.create_index(batch.f("ix_personal_data_read_at"), ["at"])
    with op.batch_alter_table("personal_data_read") as batch:
        batch.alter_column("action", server_default=None)
    _backfill()
    # who may fetch attachments is the policy's to say now, not intake's copy of routing
    with op.batch_alter_table("petition") as batch:
        batch.drop_column("assisting_units")
        batch.drop_column("lead_unit")
    op.drop_index(op.f("ix_case_party_unit_id"), table_name="case_party")
    op.drop_index(op.f("ix_case_party_petition_id"), table_name="case_party")
    op.drop_table("case_party")
    _append_only()


def _append_only() -> None:
    """The audit log cannot be changed or emptied through the database either."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
        op.execute(
            "CREATE TRIGGER personal_data_read_append_only BEFORE UPDATE OR DELETE "
            "ON personal_data_read FOR EACH ROW EXECUTE FUNCTION personal_data_read_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER personal_data_read_no_{action.lower()} BEFORE {action} "
                "ON personal_data_read BEGIN "
                "SELECT RAISE(ABORT, 'personal_data_read is append-only'); END"
            )


def _backfill() -> None:
    """Scopes for the petitions already stored, derived as intake derives them now; the
    parts casework knew; a registration for every system that holds a key."""
    from shared.directory import load_snapshot
    from shared.visibility import barred_units, derive_accused, registering_bureau

    bind = op.get_bind()
    session = Session(bind=bind)
    directory = load_snapshot(session)
    now = datetime.now(UTC)
    scope = sa.table(
        "petition_scope",
        sa.column("petition_id"),
        sa.column("type"),
        sa.column("division_code"),
        sa.column("source_system"),
        sa.column("external_ref"),
        sa.column("accused_unit"),
        sa.column("created_at", shared.db.UTCDateTime()),
    )
    part = sa.table(
        "petition_part", sa.column("petition_id"), sa.column("unit_id"), sa.column("part")
    )
    rows = bind.execute(
        sa.text(
            "SELECT p.id, p.type, p.division_code, p.accused, p.addressed_to, p.registered_by, "
            "t.source_system, t.external_ref "
            "FROM petition p LEFT JOIN external_ticket t ON t.petition_id = p.id"
        )
    ).all()
    parts: set[tuple[str, str, str]] = set()
    for pid, type_, division, accused, addressed_to, registered_by, source, ref in rows:
        if isinstance(accused, str):
            import json

            accused = json.loads(accused)
        unit = derive_accused(accused, division, directory) if type_ == "report" else None
        bind.execute(
            scope.insert().values(
                petition_id=pid,
                type=type_,
                division_code=division,
                source_system=source,
                external_ref=ref,
                accused_unit=unit,
                created_at=now,
            )
        )
        registrar = (
            (registered_by or "").split(":")[1]
            if (registered_by or "").startswith("staff:")
            else None
        )
        bureau = registering_bureau(
            directory, registrar_unit=registrar, addressed_to=addressed_to, division_code=division
        )
        if bureau:
            parts.add((pid, bureau, "registered"))
        if type_ == "report":
            parts |= {(pid, u, "barred") for u in barred_units(unit, division, directory)}
    for pid, unit_id, role in bind.execute(
        sa.text("SELECT petition_id, unit_id, part FROM case_party")
    ):
        parts.add((pid, unit_id, role))
    if parts:
        bind.execute(
            part.insert(),
            [{"petition_id": p, "unit_id": u, "part": r} for p, u, r in sorted(parts)],
        )
    counties = [
        code
        for (code,) in bind.execute(sa.text("SELECT code FROM division WHERE level = 'county'"))
    ]
    systems = bind.execute(
        sa.text(
            "SELECT DISTINCT system FROM credential WHERE kind = 'apikey' AND system IS NOT NULL"
        )
    ).all()
    system = sa.table(
        "external_system",
        sa.column("name"),
        sa.column("jurisdiction"),
        sa.column("reads"),
        sa.column("channels"),
        sa.column("unit_id"),
        sa.column("created_at", shared.db.UTCDateTime()),
    )
    for (name,) in systems:
        # a key made before systems had a scope reads only its own tickets, in the
        # one county of the deployment (none: nowhere)
        bind.execute(
            system.insert().values(
                name=name,
                jurisdiction=counties[0] if len(counties) == 1 else "000000000000",
                reads="own",
                channels="hotline",
                unit_id=None,
                created_at=now,
            )
        )
    session.close()


def downgrade() -> None:
    with op.batch_alter_table("petition") as batch:
        batch.add_column(sa.Column("lead_unit", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("assisting_units", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS personal_data_read_append_only ON personal_data_read")
        op.execute("DROP FUNCTION IF EXISTS personal_data_read_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS personal_data_read_no_update")
        op.execute("DROP TRIGGER IF EXISTS personal_data_read_no_delete")
    op.create_table(
        "case_party",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_party")),
        sa.UniqueConstraint(
            "petition_id", "unit_id", "part", name=op.f("uq_case_party_petition_id_unit_id_part")
        ),
    )
    op.create_index(op.f("ix_case_party_petition_id"), "case_party", ["petition_id"], unique=False)
    op.create_index(op.f("ix_case_party_unit_id"), "case_party", ["unit_id"], unique=False)
    op.execute(
        "INSERT INTO case_party (petition_id, unit_id, part) SELECT petition_id, unit_id, part "
        "FROM petition_part WHERE part IN ('lead', 'assisting', 'review', 're_examination', 'leader')"
    )
    with op.batch_alter_table("personal_data_read") as batch:
        batch.drop_index(batch.f("ix_personal_data_read_at"))
        batch.drop_index(batch.f("ix_personal_data_read_reader"))
        batch.drop_index(batch.f("ix_personal_data_read_credential_id"))
        batch.drop_column("action")
        batch.drop_column("credential_id")
    with op.batch_alter_table("webhook_subscription") as batch:
        batch.drop_column("owner_system")
        batch.drop_column("owner_unit")
    op.drop_index("ix_petition_part_unit_part", table_name="petition_part")
    op.drop_index(op.f("ix_petition_part_petition_id"), table_name="petition_part")
    op.drop_table("petition_part")
    op.drop_index("ix_petition_scope_source_ref", table_name="petition_scope")
    op.drop_index(op.f("ix_petition_scope_division_code"), table_name="petition_scope")
    op.drop_table("petition_scope")
    op.drop_table("external_system")
