"""administration: archive search indexes, corrections, dictionary versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _trigram_available() -> bool:
    """pg_trgm is installed, or can be: it ships with PostgreSQL's contrib package."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    return found is not None


def upgrade() -> None:
    _correction_request()
    _search_indexes()
    # The definitions registry (domain/parameter/rules.py) reads this one as a number.
    op.execute(
        "UPDATE parameter SET value_type = 'number', "
        "description = 'EMR 诊断在本进程中缓存的时间；0 表示不缓存' "
        "WHERE key = 'emr_cache_ttl_s'"
    )


def _correction_request() -> None:
    op.create_table(
        "correction_request",
        sa.Column("id", _ID, nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("target_label", sa.String(length=256), nullable=False),
        sa.Column("patient_id", sa.BigInteger(), nullable=False),
        sa.Column("pregnancy_id", sa.BigInteger(), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", _WHEN, nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", _WHEN, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("applied_before", sa.Text(), nullable=True),
        sa.Column("applied_after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_request")),
    )
    op.create_index("ix_correction_request_status", "correction_request", ["status", "id"])
    op.create_index(
        "ix_correction_request_target", "correction_request", ["target_type", "target_id", "field"]
    )
    op.create_index("ix_correction_request_patient", "correction_request", ["patient_id", "id"])
    op.create_index(
        "ix_correction_request_requested_by", "correction_request", ["requested_by", "id"]
    )


def _search_indexes() -> None:
    """Indexes of domain/archive/models.py (archive search, audit viewer)."""
    postgresql = _postgresql()
    trigrams = postgresql and _trigram_available()
    if trigrams:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_patient_name_trgm",
            "patient",
            ["name"],
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )
    elif postgresql:
        # Without pg_trgm substring searches scan; prefix searches still use this index.
        op.create_index("ix_patient_name_trgm", "patient", ["name"])
    else:
        op.create_index("ix_patient_name_trgm", "patient", ["name"], sqlite_where=sa.text("0"))
    for column in ("name", "name_initials", "resident_id", "phone"):
        op.create_index(f"ix_patient_search_{column}", "patient", [column, "id"])
    op.create_index(
        "ix_patient_long_name",
        "patient",
        ["id"],
        postgresql_where=sa.text("char_length(name) >= 4"),
        sqlite_where=sa.text("length(name) >= 4"),
    )
    archived = {
        "postgresql_where": sa.text("status = 'ARCHIVED'"),
        "sqlite_where": sa.text("status = 'ARCHIVED'"),
    }
    op.create_index(
        "ix_pregnancy_archived_id",
        "pregnancy",
        ["id"],
        postgresql_include=["patient_id", "delivered_on", "archived_at"],
        **archived,
    )
    op.create_index(
        "ix_pregnancy_archived_patient",
        "pregnancy",
        ["patient_id", "id"],
        postgresql_include=["delivered_on", "archived_at"],
        **archived,
    )
    op.create_index(
        "ix_pregnancy_archived_delivered",
        "pregnancy",
        ["delivered_on", "id"],
        postgresql_include=["patient_id"],
        **archived,
    )
    op.create_index(
        "ix_pregnancy_archived_at",
        "pregnancy",
        ["archived_at", "id"],
        postgresql_include=["patient_id"],
        **archived,
    )
    op.create_index("ix_audit_event_username", "audit_event", ["username", "at"])
    op.create_index(
        "ix_audit_event_patient_ids",
        "audit_event",
        ["patient_ids"],
        postgresql_using="gin",
        postgresql_ops={"patient_ids": "jsonb_path_ops"},
        sqlite_where=sa.text("0"),
    )


def downgrade() -> None:
    op.execute(
        "UPDATE parameter SET value_type = 'integer', "
        "description = 'EMR 诊断的缓存时间（秒）' WHERE key = 'emr_cache_ttl_s'"
    )
    for table, name in (
        ("audit_event", "ix_audit_event_patient_ids"),
        ("audit_event", "ix_audit_event_username"),
        ("pregnancy", "ix_pregnancy_archived_at"),
        ("pregnancy", "ix_pregnancy_archived_delivered"),
        ("pregnancy", "ix_pregnancy_archived_patient"),
        ("pregnancy", "ix_pregnancy_archived_id"),
        ("patient", "ix_patient_long_name"),
        ("patient", "ix_patient_search_phone"),
        ("patient", "ix_patient_search_resident_id"),
        ("patient", "ix_patient_search_name_initials"),
        ("patient", "ix_patient_search_name"),
        ("patient", "ix_patient_name_trgm"),
    ):
        op.drop_index(name, table_name=table)
    op.drop_table("correction_request")
