"""Registering and finding patients."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database
from domain.errors import FieldError, ValidationFailed
from domain.patient import rules
from domain.patient.models import Patient


@dataclass(frozen=True)
class PatientInput:
    name: str
    resident_id: str
    phone: str | None = None
    address: str | None = None
    ethnicity: str | None = None
    birth_date: dt.date | None = None
    emr_record_no: str | None = None
    lis_record_no: str | None = None
    legacy_id: str | None = None


_EXTERNAL_IDS = (
    ("emr_record_no", "emrRecordNo", "电子病历号"),
    ("lis_record_no", "lisRecordNo", "检验系统病人号"),
    ("legacy_id", "legacyId", "旧系统编号"),
)


def _validate(data: PatientInput, today: dt.date) -> tuple[list[FieldError], str, dt.date | None]:
    errors = check.collect(
        check.text("name", data.name, label="姓名", max_len=64, required=True),
        check.text("address", data.address, label="地址", max_len=256),
        check.text("ethnicity", data.ethnicity, label="民族", max_len=32),
        *(
            check.text(field, getattr(data, attr), label=label, max_len=64)
            for attr, field, label in _EXTERNAL_IDS
        ),
    )
    resident_id = rules.normalise_resident_id(data.resident_id)
    birth: dt.date | None = None
    outcome = rules.validate_resident_id(data.resident_id, today=today)
    if isinstance(outcome, FieldError):
        errors.append(outcome)
    else:
        resident_id, birth = outcome
        if data.birth_date is not None and data.birth_date != birth:
            errors.append(
                FieldError(
                    "birthDate",
                    f"出生日期 {data.birth_date.isoformat()} 与身份证号码中的 {birth.isoformat()} 不一致",
                    "MISMATCH",
                )
            )
    if data.phone and not rules.valid_phone(data.phone):
        errors.append(
            FieldError(
                "phone", "电话号码格式不正确：应为11位手机号或带区号的固定电话", "INVALID_FORMAT"
            )
        )
    return errors, resident_id, birth


async def _uniqueness_errors(
    session: AsyncSession, data: PatientInput, resident_id: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    if await session.scalar(select(Patient.id).where(Patient.resident_id == resident_id)):
        errors.append(FieldError("residentId", "该身份证号码已登记", "DUPLICATE"))
    for attr, field, label in _EXTERNAL_IDS:
        value = getattr(data, attr)
        if value and await session.scalar(
            select(Patient.id).where(getattr(Patient, attr) == value)
        ):
            errors.append(FieldError(field, f"{label} {value} 已属于另一位患者", "DUPLICATE"))
    return errors


async def register_patient(
    db: Database, actor: Actor, data: PatientInput, *, today: dt.date | None = None
) -> Patient:
    """Register a patient; raises ValidationFailed (nothing written) when a rule is broken."""
    errors, resident_id, birth = _validate(data, today or dt.date.today())
    if errors or birth is None:
        raise ValidationFailed(errors)
    async with db.transaction() as session:
        errors = await _uniqueness_errors(session, data, resident_id)
        if errors:
            raise ValidationFailed(errors)
        patient = Patient(
            name=data.name.strip(),
            name_initials=rules.name_initials(data.name.strip()),
            resident_id=resident_id,
            birth_date=birth,
            phone=data.phone.strip() if data.phone else None,
            address=data.address,
            ethnicity=data.ethnicity,
            emr_record_no=data.emr_record_no or None,
            lis_record_no=data.lis_record_no or None,
            legacy_id=data.legacy_id or None,
            created_by=actor.username,
        )
        session.add(patient)
        await session.flush()
        record_change(
            session,
            actor,
            "CREATE",
            entity="patient",
            entity_id=patient.id,
            patient_ids=[patient.id],
        )
    return patient


def search_condition(search: str) -> ColumnElement[bool]:
    """Match a name, pinyin initials, resident ID or phone (prefix for the identifiers)."""
    term = search.strip()
    conditions: list[ColumnElement[bool]] = [Patient.name.contains(term, autoescape=True)]
    upper = term.upper()
    if upper.isascii() and upper.isalpha():
        conditions.append(Patient.name_initials.startswith(upper, autoescape=True))
    if any(ch.isdigit() for ch in term):
        digits = rules.normalise_resident_id(term)
        conditions.append(Patient.resident_id.startswith(digits, autoescape=True))
        conditions.append(Patient.phone.startswith(term, autoescape=True))
        if len(term) >= 4:
            conditions.append(Patient.resident_id.endswith(digits, autoescape=True))
            conditions.append(Patient.phone.endswith(term, autoescape=True))
    return or_(*conditions)


def patient_query(search: str | None) -> Select[Patient]:
    query = select(Patient)
    if search and search.strip():
        query = query.where(search_condition(search))
    return query


async def count_patients(session: AsyncSession, search: str | None) -> int:
    query = select(func.count()).select_from(Patient)
    if search and search.strip():
        query = query.where(search_condition(search))
    return int(await session.scalar(query) or 0)
