"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 05:36:55.205664
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_tables()
    _seed_risk_factor_dictionary()


def _seed_risk_factor_dictionary() -> None:
    """The 2017 national risk-factor table; the hospital edits it through the dictionary."""
    path = Path(__file__).resolve().parents[2] / "domain/dictionary/data/risk_factors_2017.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    table = sa.table(
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
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(
        table,
        [
            {
                "kind": data["kind"],
                "code": entry["code"],
                "name": entry["name"],
                "attributes": {"color": entry["color"], "tableVersion": data["version"]},
                "active": True,
                "version": 1,
                "source": entry["source"][:128],
                "updated_at": now,
                "updated_by": "migration",
            }
            for entry in data["entries"]
        ],
    )


def _create_tables() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('roles', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('operation_name', sa.String(length=128), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('entity', sa.String(length=32), nullable=True),
    sa.Column('entity_id', sa.BigInteger(), nullable=True),
    sa.Column('patient_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_event_user', ['user_id', 'at'], unique=False)

    op.create_table('dictionary_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dictionary_entry')),
    sa.UniqueConstraint('kind', 'code', name='uq_dictionary_entry_kind_code')
    )
    op.create_table('job_heartbeat',
    sa.Column('runner', sa.String(length=128), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('runner', name=op.f('pk_job_heartbeat'))
    )
    op.create_table('patient',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('name_initials', sa.String(length=32), nullable=False),
    sa.Column('resident_id', sa.String(length=18), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('ethnicity', sa.String(length=32), nullable=True),
    sa.Column('emr_record_no', sa.String(length=64), nullable=True),
    sa.Column('lis_record_no', sa.String(length=64), nullable=True),
    sa.Column('legacy_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient')),
    sa.UniqueConstraint('emr_record_no', name=op.f('uq_patient_emr_record_no')),
    sa.UniqueConstraint('legacy_id', name=op.f('uq_patient_legacy_id')),
    sa.UniqueConstraint('lis_record_no', name=op.f('uq_patient_lis_record_no')),
    sa.UniqueConstraint('resident_id', name=op.f('uq_patient_resident_id'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_name', ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_name_initials'), ['name_initials'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_phone'), ['phone'], unique=False)

    op.create_table('revision',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=True),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision'))
    )
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.create_index('ix_revision_entity', ['entity', 'entity_id', 'version'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_token_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_token_secret_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('pregnancy',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lmp', sa.Date(), nullable=False),
    sa.Column('edd', sa.Date(), nullable=False),
    sa.Column('edd_from_lmp', sa.Boolean(), nullable=False),
    sa.Column('gravidity', sa.Integer(), nullable=False),
    sa.Column('parity', sa.Integer(), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=False),
    sa.Column('booking_unit', sa.String(length=128), nullable=True),
    sa.Column('handbook_no', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('delivered_on', sa.Date(), nullable=True),
    sa.Column('delivered_recorded_by', sa.String(length=64), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_by', sa.String(length=64), nullable=True),
    sa.Column('risk_color', sa.String(length=8), nullable=False),
    sa.Column('infectious_flag', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_pregnancy_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy')),
    sa.UniqueConstraint('handbook_no', name=op.f('uq_pregnancy_handbook_no'))
    )
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.create_index('ix_pregnancy_booking_date', ['booking_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_pregnancy_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_pregnancy_status_risk', ['status', 'risk_color'], unique=False)

    op.create_table('lab_result',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pregnancy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('loinc', sa.String(length=16), nullable=True),
    sa.Column('local_code', sa.String(length=64), nullable=True),
    sa.Column('value_numeric', sa.Float(), nullable=True),
    sa.Column('comparator', sa.String(length=2), nullable=True),
    sa.Column('value_qualitative', sa.String(length=16), nullable=True),
    sa.Column('value_text', sa.String(length=256), nullable=True),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('reference_range', sa.String(length=64), nullable=True),
    sa.Column('abnormal_flag', sa.String(length=8), nullable=True),
    sa.Column('specimen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amendment_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_lab_result_patient_id_patient')),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'], name=op.f('fk_lab_result_pregnancy_id_pregnancy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_result')),
    sa.UniqueConstraint('source', 'source_id', name='uq_lab_result_source_id')
    )
    with op.batch_alter_table('lab_result', schema=None) as batch_op:
        batch_op.create_index('ix_lab_result_patient_item_time', ['patient_id', 'item_code', 'reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_result_pregnancy_id'), ['pregnancy_id'], unique=False)

    op.create_table('prenatal_visit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pregnancy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('gestational_days', sa.Integer(), nullable=False),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('systolic_bp', sa.Integer(), nullable=True),
    sa.Column('diastolic_bp', sa.Integer(), nullable=True),
    sa.Column('fundal_height_cm', sa.Float(), nullable=True),
    sa.Column('abdominal_circumference_cm', sa.Float(), nullable=True),
    sa.Column('fetal_heart_rate', sa.Integer(), nullable=True),
    sa.Column('fetal_position', sa.String(length=16), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.Column('next_visit_date', sa.Date(), nullable=True),
    sa.Column('doctor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('doctor_name', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['app_user.id'], name=op.f('fk_prenatal_visit_doctor_id_app_user')),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'], name=op.f('fk_prenatal_visit_pregnancy_id_pregnancy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prenatal_visit'))
    )
    with op.batch_alter_table('prenatal_visit', schema=None) as batch_op:
        batch_op.create_index('ix_prenatal_visit_pregnancy_date', ['pregnancy_id', 'visit_date'], unique=False)

    op.create_table('risk_factor',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pregnancy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('color', sa.String(length=8), nullable=False),
    sa.Column('diagnosis', sa.Text(), nullable=True),
    sa.Column('diagnosis_source', sa.String(length=8), nullable=False),
    sa.Column('icd10_code', sa.String(length=16), nullable=True),
    sa.Column('emr_condition_id', sa.String(length=128), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.Column('removal_reason', sa.String(length=256), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'], name=op.f('fk_risk_factor_pregnancy_id_pregnancy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_factor'))
    )
    with op.batch_alter_table('risk_factor', schema=None) as batch_op:
        batch_op.create_index('ix_risk_factor_pregnancy', ['pregnancy_id', 'removed_at'], unique=False)

    op.create_table('ultrasound_exam',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pregnancy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('exam_date', sa.Date(), nullable=False),
    sa.Column('report_text', sa.Text(), nullable=False),
    sa.Column('nt_mm', sa.Float(), nullable=True),
    sa.Column('crl_mm', sa.Float(), nullable=True),
    sa.Column('gestational_days', sa.Integer(), nullable=True),
    sa.Column('extraction_status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_ultrasound_exam_patient_id_patient')),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'], name=op.f('fk_ultrasound_exam_pregnancy_id_pregnancy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ultrasound_exam')),
    sa.UniqueConstraint('source', 'source_id', name='uq_ultrasound_exam_source_id')
    )
    with op.batch_alter_table('ultrasound_exam', schema=None) as batch_op:
        batch_op.create_index('ix_ultrasound_exam_patient_date', ['patient_id', 'exam_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_ultrasound_exam_pregnancy_id'), ['pregnancy_id'], unique=False)

    op.create_table('lab_result_amendment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lab_result_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('amended_by', sa.String(length=64), nullable=False),
    sa.Column('amended_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lab_result_id'], ['lab_result.id'], name=op.f('fk_lab_result_amendment_lab_result_id_lab_result')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_result_amendment'))
    )
    with op.batch_alter_table('lab_result_amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_result_amendment_lab_result_id'), ['lab_result_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lab_result_amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_result_amendment_lab_result_id'))

    op.drop_table('lab_result_amendment')
    with op.batch_alter_table('ultrasound_exam', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ultrasound_exam_pregnancy_id'))
        batch_op.drop_index('ix_ultrasound_exam_patient_date')

    op.drop_table('ultrasound_exam')
    with op.batch_alter_table('risk_factor', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_factor_pregnancy')

    op.drop_table('risk_factor')
    with op.batch_alter_table('prenatal_visit', schema=None) as batch_op:
        batch_op.drop_index('ix_prenatal_visit_pregnancy_date')

    op.drop_table('prenatal_visit')
    with op.batch_alter_table('lab_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_result_pregnancy_id'))
        batch_op.drop_index('ix_lab_result_patient_item_time')

    op.drop_table('lab_result')
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.drop_index('ix_pregnancy_status_risk')
        batch_op.drop_index(batch_op.f('ix_pregnancy_patient_id'))
        batch_op.drop_index('ix_pregnancy_booking_date')

    op.drop_table('pregnancy')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.drop_index('ix_revision_entity')

    op.drop_table('revision')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_phone'))
        batch_op.drop_index(batch_op.f('ix_patient_name_initials'))
        batch_op.drop_index('ix_patient_name')

    op.drop_table('patient')
    op.drop_table('job_heartbeat')
    op.drop_table('dictionary_entry')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_user')
        batch_op.drop_index('ix_audit_event_at')

    op.drop_table('audit_event')
    op.drop_table('app_user')
