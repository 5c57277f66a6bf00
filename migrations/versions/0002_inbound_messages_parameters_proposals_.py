"""inbound messages, parameters, proposals, lab dictionary

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:54:16.153025
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _schema()
    _seed()


_DICTIONARY = sa.table(
    "dictionary_entry",
    sa.column("kind", sa.String),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("attributes", sa.JSON),
    sa.column("active", sa.Boolean),
    sa.column("version", sa.Integer),
    sa.column("source", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String),
)
_PARAMETER = sa.table(
    "parameter",
    sa.column("key", sa.String),
    sa.column("value", sa.JSON),
    sa.column("value_type", sa.String),
    sa.column("description", sa.Text),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String),
)


def _seed() -> None:
    """Standard lab items, common Chinese LIS codes mapped to them, and the first parameters."""
    path = Path(__file__).resolve().parents[2] / "domain/dictionary/data/lab_items.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    now = dt.datetime.now(dt.UTC)
    names = {item["code"]: item["name"] for item in data["items"]}
    common = {"active": True, "version": 1, "updated_at": now, "updated_by": "migration"}
    op.bulk_insert(
        _DICTIONARY,
        [
            {
                "kind": "lab_item",
                "code": item["code"],
                "name": item["name"],
                "attributes": {
                    "loinc": item["loinc"],
                    "unit": item["unit"],
                    "valueKind": item["kind"],
                    "proposesFactor": item["proposesFactor"],
                },
                "source": "LOINC（risk-factors.md）",
                **common,
            }
            for item in data["items"]
        ]
        + [
            {
                "kind": "lis_code",
                "code": entry["localCode"],
                "name": names[entry["item"]],
                "attributes": {"item": entry["item"]},
                "source": "常见检验系统项目编码",
                **common,
            }
            for entry in data["lisCodes"]
        ],
    )
    op.bulk_insert(
        _PARAMETER,
        [
            {
                "key": "nt_cutoff_mm",
                "value": 3.0,
                "value_type": "number",
                "description": "NT 增厚的界值（mm）：NT 大于或等于该值时提示",
                "updated_at": now,
                "updated_by": "migration",
            },
            {
                "key": "emr_timeout_s",
                "value": 2.0,
                "value_type": "number",
                "description": "调用电子病历（EMR）的超时时间（秒）",
                "updated_at": now,
                "updated_by": "migration",
            },
            {
                "key": "emr_cache_ttl_s",
                "value": 60,
                "value_type": "integer",
                "description": "EMR 诊断的缓存时间（秒）",
                "updated_at": now,
                "updated_by": "migration",
            },
        ],
    )


def _schema() -> None:
    op.create_table('inbound_message',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('message_type', sa.String(length=32), nullable=True),
    sa.Column('charset', sa.String(length=32), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('error_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_message')),
    sa.UniqueConstraint('channel', 'message_id', name='uq_inbound_message_channel_message_id')
    )
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_message_status', ['status', 'received_at'], unique=False)

    op.create_table('parameter',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('value_type', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_parameter'))
    )
    op.create_table('risk_factor_proposal',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pregnancy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('lab_result_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'], name=op.f('fk_risk_factor_proposal_pregnancy_id_pregnancy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_factor_proposal'))
    )
    with op.batch_alter_table('risk_factor_proposal', schema=None) as batch_op:
        batch_op.create_index('ix_risk_factor_proposal_pregnancy', ['pregnancy_id', 'status'], unique=False)

    with op.batch_alter_table('ultrasound_exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matched_text', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('nt_at_or_above_cutoff', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('fetuses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default=sa.text("'[]'")))



def downgrade() -> None:
    op.execute("DELETE FROM dictionary_entry WHERE kind IN ('lab_item', 'lis_code')")
    with op.batch_alter_table('ultrasound_exam', schema=None) as batch_op:
        batch_op.drop_column('fetuses')
        batch_op.drop_column('nt_at_or_above_cutoff')
        batch_op.drop_column('matched_text')

    with op.batch_alter_table('risk_factor_proposal', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_factor_proposal_pregnancy')

    op.drop_table('risk_factor_proposal')
    op.drop_table('parameter')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_message_status')

    op.drop_table('inbound_message')
