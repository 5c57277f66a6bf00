"""rendered documents (handbook, inspection report) and render jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 08:30:00
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_PARAMETER = sa.table(
    "parameter",
    sa.column("key", sa.String),
    sa.column("value", sa.JSON),
    sa.column("value_type", sa.String),
    sa.column("description", sa.Text),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String),
)
_PARAMETER_KEYS = ("inspection_interval_days", "backup_max_age_h", "backup_dir")


def upgrade() -> None:
    op.create_table(
        "background_job",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_job")),
    )
    op.create_index("ix_background_job_kind", "background_job", ["kind", "created_at"])
    op.create_index("ix_background_job_status", "background_job", ["status", "created_at"])
    op.create_table(
        "stored_document",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pregnancy_id", _ID, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["pregnancy.id"],
            name=op.f("fk_stored_document_pregnancy_id_pregnancy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_document")),
    )
    op.create_index("ix_stored_document_kind", "stored_document", ["kind", "created_at"])
    op.create_index(
        "ix_stored_document_pregnancy", "stored_document", ["pregnancy_id", "kind", "created_at"]
    )
    op.create_table(
        "inspection_report",
        sa.Column("id", _ID, nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", _JSON, nullable=False),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("comparison", _JSON, nullable=False),
        sa.Column("highest_severity", sa.String(length=16), nullable=False),
        sa.Column("previous_report_id", sa.BigInteger(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("document_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stored_document.id"],
            name=op.f("fk_inspection_report_document_id_stored_document"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_report")),
    )
    _seed_parameters()


def _seed_parameters() -> None:
    now = dt.datetime.now(dt.UTC)
    common = {"updated_at": now, "updated_by": "migration"}
    op.bulk_insert(
        _PARAMETER,
        [
            {
                "key": "inspection_interval_days",
                "value": 91,
                "value_type": "integer",
                "description": "自动巡检的间隔（天）：距上次巡检报告满该天数时自动生成新报告（至少每季度一次）",
                **common,
            },
            {
                "key": "backup_max_age_h",
                "value": 26,
                "value_type": "integer",
                "description": "数据库备份的最长间隔（小时）：巡检时最新备份早于该时长即报警告",
                **common,
            },
            {
                "key": "backup_dir",
                "value": "",
                "value_type": "string",
                "description": "数据库备份文件所在目录（巡检检查其中最新文件的时间）；为空表示未配置",
                **common,
            },
        ],
    )


def downgrade() -> None:
    keys = ", ".join(f"'{key}'" for key in _PARAMETER_KEYS)
    op.execute(f"DELETE FROM parameter WHERE key IN ({keys})")  # noqa: S608 (fixed keys)
    op.drop_table("inspection_report")
    op.drop_index("ix_stored_document_pregnancy", table_name="stored_document")
    op.drop_index("ix_stored_document_kind", table_name="stored_document")
    op.drop_table("stored_document")
    op.drop_index("ix_background_job_status", table_name="background_job")
    op.drop_index("ix_background_job_kind", table_name="background_job")
    op.drop_table("background_job")
