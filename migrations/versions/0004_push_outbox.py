"""桂妇儿 push outbox and delivery state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:30:00
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)

_PARAMETER = sa.table(
    "parameter",
    sa.column("key", sa.String),
    sa.column("value", sa.JSON),
    sa.column("value_type", sa.String),
    sa.column("description", sa.Text),
    sa.column("updated_at", _WHEN),
    sa.column("updated_by", sa.String),
)
_MAPPING = sa.table(
    "push_mapping",
    sa.column("version", sa.Integer),
    sa.column("document", sa.JSON),
    sa.column("note", sa.Text),
    sa.column("created_by", sa.String),
    sa.column("created_at", _WHEN),
)
PARAMETERS = (
    ("push_sweep_interval_s", 30, "integer", "推送补漏扫描间隔（秒）：定期查找到期未送出的记录"),
    ("push_backoff_base_s", 2.0, "number", "推送失败后首次重试的等待时间（秒），之后按指数增长"),
    ("push_backoff_max_s", 600.0, "number", "推送重试等待时间的上限（秒）"),
    ("push_coalesce_s", 2.0, "number", "合并连续修改的等待时间（秒）：期间的多次修改只推送最新版本"),
    ("push_requires_review", False, "boolean", "推送前是否需要另一人审核"),
    ("reconcile_interval_h", 24, "integer", "与平台核对已推送记录版本的间隔（小时）"),
)


def upgrade() -> None:
    op.create_table(
        "push_mapping",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_push_mapping")),
    )
    op.create_table(
        "push_channel",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", _WHEN, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", _WHEN, nullable=True),
        sa.Column("last_sweep_at", _WHEN, nullable=True),
        sa.Column("last_reconcile_at", _WHEN, nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_push_channel")),
    )
    op.create_table(
        "push_record",
        sa.Column("id", _ID, nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("pregnancy_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sent_version", sa.Integer(), nullable=True),
        sa.Column("delivered_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("mapping_version", sa.Integer(), nullable=False),
        sa.Column("problems", _JSON, nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", _WHEN, nullable=True),
        sa.Column("last_attempt_at", _WHEN, nullable=True),
        sa.Column("last_error", _JSON, nullable=True),
        sa.Column("delivered_at", _WHEN, nullable=True),
        sa.Column("platform_id", sa.String(length=64), nullable=True),
        sa.Column("platform_version", sa.Integer(), nullable=True),
        sa.Column("reconciled_at", _WHEN, nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("discarded_by", sa.String(length=64), nullable=True),
        sa.Column("discarded_at", _WHEN, nullable=True),
        sa.Column("discard_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_push_record_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"], ["pregnancy.id"], name=op.f("fk_push_record_pregnancy_id_pregnancy")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_record")),
        sa.UniqueConstraint("record_id", name=op.f("uq_push_record_record_id")),
    )
    with op.batch_alter_table("push_record", schema=None) as batch_op:
        batch_op.create_index("ix_push_record_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(op.f("ix_push_record_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(op.f("ix_push_record_pregnancy_id"), ["pregnancy_id"], unique=False)
        batch_op.create_index("ix_push_record_updated_at", ["updated_at"], unique=False)
    op.create_table(
        "push_attempt",
        sa.Column("id", _ID, nullable=False),
        sa.Column("push_record_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _WHEN, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("field_errors", _JSON, nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["push_record_id"],
            ["push_record.id"],
            name=op.f("fk_push_attempt_push_record_id_push_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_attempt")),
    )
    with op.batch_alter_table("push_attempt", schema=None) as batch_op:
        batch_op.create_index(op.f("ix_push_attempt_attempted_at"), ["attempted_at"], unique=False)
        batch_op.create_index(
            op.f("ix_push_attempt_push_record_id"), ["push_record_id"], unique=False
        )
    _seed()


def _seed() -> None:
    now = dt.datetime.now(dt.UTC)
    path = Path(__file__).resolve().parents[2] / "domain/push/data/mapping_v1.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    op.bulk_insert(
        _MAPPING,
        [
            {
                "version": document["version"],
                "document": {"fields": document["fields"], "codes": document["codes"]},
                "note": document["note"],
                "created_by": "migration",
                "created_at": now,
            }
        ],
    )
    op.bulk_insert(
        _PARAMETER,
        [
            {
                "key": key,
                "value": value,
                "value_type": kind,
                "description": description,
                "updated_at": now,
                "updated_by": "migration",
            }
            for key, value, kind, description in PARAMETERS
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.delete(_PARAMETER).where(_PARAMETER.c.key.in_([key for key, *_ in PARAMETERS]))
    )
    with op.batch_alter_table("push_attempt", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_push_attempt_push_record_id"))
        batch_op.drop_index(op.f("ix_push_attempt_attempted_at"))
    op.drop_table("push_attempt")
    with op.batch_alter_table("push_record", schema=None) as batch_op:
        batch_op.drop_index("ix_push_record_updated_at")
        batch_op.drop_index(op.f("ix_push_record_pregnancy_id"))
        batch_op.drop_index(op.f("ix_push_record_patient_id"))
        batch_op.drop_index("ix_push_record_due")
    op.drop_table("push_record")
    op.drop_table("push_channel")
    op.drop_table("push_mapping")
