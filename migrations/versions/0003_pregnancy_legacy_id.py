"""pregnancy.legacy_id for pregnancies imported from the previous system

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pregnancy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legacy_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_pregnancy_legacy_id"), ["legacy_id"])


def downgrade() -> None:
    with op.batch_alter_table("pregnancy", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_pregnancy_legacy_id"), type_="unique")
        batch_op.drop_column("legacy_id")
