"""The records a correction can change: finding them, reading a field, making the change.

Visits, risk factors and lab results are changed through their own domain services
(the same validation, history, audit and push outbox as a doctor's edit). Patients and
the booking data of a pregnancy have no edit service of their own — booking and
registration are one-off — so their corrections are applied here, with the rules of
`domain.patient.rules` and `domain.pregnancy.rules`, the same history and audit, and a
refresh of the push outbox.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.correction import rules
from domain.correction.unit import JoinedTransaction
from domain.database import Base
from domain.errors import FieldError, ValidationFailed, fail
from domain.history.models import Revision
from domain.history.service import record_revision, snapshot
from domain.lab.amend import Amendment, amend_lab_result
from domain.lab.models import LabResult
from domain.patient import rules as patient_rules
from domain.patient.models import Patient
from domain.pregnancy import rules as pregnancy_rules
from domain.pregnancy.models import Pregnancy
from domain.push.outbox import refresh_patient, refresh_pregnancy
from domain.risk.models import RiskFactor
from domain.risk.service import edit_risk_factor
from domain.visit.models import PrenatalVisit
from domain.visit.service import edit_visit

MODELS: dict[str, type[Base]] = {
    rules.PATIENT: Patient,
    rules.PREGNANCY: Pregnancy,
    rules.VISIT: PrenatalVisit,
    rules.RISK_FACTOR: RiskFactor,
    rules.LAB_RESULT: LabResult,
}
LABEL_MAX = 256


@dataclass(frozen=True)
class Located:
    """A target record, whose data it is, and how requests name it to people."""

    row: Any
    patient_id: int
    pregnancy_id: int | None
    label: str


async def locate(session: AsyncSession, target_type: str, target_id: int) -> Located | None:
    """The record, locked for the rest of the transaction; None when it does not exist."""
    row: Any = await session.get(MODELS[target_type], target_id, with_for_update=True)
    if row is None or (isinstance(row, RiskFactor) and row.removed_at is not None):
        return None
    pregnancy: Pregnancy | None = None
    if isinstance(row, Patient):
        patient_id = row.id
    elif isinstance(row, Pregnancy):
        pregnancy, patient_id = row, row.patient_id
    elif isinstance(row, LabResult):
        patient_id = row.patient_id
        if row.pregnancy_id is not None:
            pregnancy = await session.get(Pregnancy, row.pregnancy_id)
    else:
        pregnancy = await session.get(Pregnancy, row.pregnancy_id)
        if pregnancy is None:
            return None
        patient_id = pregnancy.patient_id
    patient = row if isinstance(row, Patient) else await session.get(Patient, patient_id)
    name = patient.name if patient is not None else "?"
    return Located(
        row=row,
        patient_id=patient_id,
        pregnancy_id=pregnancy.id if pregnancy is not None else None,
        label=_label(row, name, pregnancy)[:LABEL_MAX],
    )


def _label(row: Any, name: str, pregnancy: Pregnancy | None) -> str:
    if isinstance(row, Patient):
        return f"孕妇 {name}"
    if isinstance(row, Pregnancy):
        return f"孕产档案 {name}（建档 {row.booking_date.isoformat()}）"
    if isinstance(row, PrenatalVisit):
        return f"产前检查 {name} {row.visit_date.isoformat()}"
    if isinstance(row, RiskFactor):
        return f"高危因素 {name}：{row.name}"
    if isinstance(row, LabResult):
        return f"检验结果 {name}：{row.item_name} {row.reported_at.date().isoformat()}"
    return f"{name}"


def current(located: Located, field: rules.CorrectableField) -> str | None:
    return rules.render(getattr(located.row, field.attribute))


async def apply(
    db: JoinedTransaction,
    session: AsyncSession,
    actor: Actor,
    located: Located,
    field: rules.CorrectableField,
    value: rules.Value,
    reason: str,
    *,
    today: dt.date | None = None,
) -> None:
    """Make the change in the joined transaction; ValidationFailed when a domain rule says no."""
    row = located.row
    attribute = field.attribute
    if isinstance(row, PrenatalVisit):
        await edit_visit(db, actor, row.id, {attribute: value}, today=today, allow_closed=True)
    elif isinstance(row, RiskFactor):
        text = value if isinstance(value, str) else None
        await edit_risk_factor(db, actor, row.id, {attribute: text}, allow_closed=True)
    elif isinstance(row, LabResult):
        amendment = Amendment(value_text=str(value), reason=reason)
        await amend_lab_result(db, actor, row.id, amendment, allow_closed=True)
    elif isinstance(row, Patient):
        await _correct_patient(session, actor, row, field, value)
    elif isinstance(row, Pregnancy):
        await _correct_pregnancy(session, actor, row, field, value, today or dt.date.today())
    else:  # pragma: no cover - MODELS lists every target type
        raise TypeError(f"no correction for {type(row).__name__}")


async def _next_version(session: AsyncSession, entity: str, entity_id: int) -> int:
    found = await session.scalar(
        select(func.max(Revision.version)).where(
            Revision.entity == entity, Revision.entity_id == entity_id
        )
    )
    return int(found or 0) + 1


async def _keep_history(
    session: AsyncSession,
    actor: Actor,
    row: Patient | Pregnancy,
    entity: str,
    before: dict[str, object],
    after: dict[str, object],
    patient_id: int,
) -> None:
    record_revision(
        session,
        actor,
        entity=entity,
        entity_id=row.id,
        version=await _next_version(session, entity, row.id),
        before=before,
        after=after,
    )
    record_change(
        session,
        actor,
        "UPDATE",
        entity=entity,
        entity_id=row.id,
        patient_ids=[patient_id],
        detail={"fields": sorted(k for k in after if before.get(k) != after.get(k))},
    )


def _patient_errors(field: rules.CorrectableField, value: rules.Value) -> list[FieldError]:
    text = value if isinstance(value, str) else None
    if field.attribute == "name":
        return check.collect(check.text("name", text, label="姓名", max_len=64, required=True))
    if field.attribute == "phone":
        if text and not patient_rules.valid_phone(text):
            return [
                FieldError(
                    "phone",
                    "电话号码格式不正确：应为11位手机号或带区号的固定电话",
                    "INVALID_FORMAT",
                )
            ]
        return []
    limit = 256 if field.attribute == "address" else 32
    return check.collect(check.text(field.field, text, label=field.label, max_len=limit))


async def _correct_patient(
    session: AsyncSession,
    actor: Actor,
    patient: Patient,
    field: rules.CorrectableField,
    value: rules.Value,
) -> None:
    errors = _patient_errors(field, value)
    if errors:
        raise ValidationFailed(errors)
    tracked = [field.attribute] + (["name_initials"] if field.attribute == "name" else [])
    before = snapshot(patient, tracked)
    setattr(patient, field.attribute, value)
    if field.attribute == "name" and isinstance(value, str):
        patient.name_initials = patient_rules.name_initials(value)
    await _keep_history(
        session, actor, patient, "patient", before, snapshot(patient, tracked), patient.id
    )
    await session.flush()
    await refresh_patient(session, patient.id, changed_by=actor.username)


async def _lmp_errors(
    session: AsyncSession, pregnancy: Pregnancy, lmp: dt.date, today: dt.date
) -> tuple[list[FieldError], list[PrenatalVisit]]:
    edd = None if pregnancy.edd_from_lmp else pregnancy.edd
    errors = pregnancy_rules.check_dates(lmp, edd, pregnancy.booking_date, today)
    visits = list(
        (
            await session.scalars(
                select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == pregnancy.id)
            )
        ).all()
    )
    limit = pregnancy_rules.MAX_GESTATION_DAYS
    if any(v.visit_date < lmp for v in visits):
        errors.append(FieldError("lmp", "有产检日期早于新的末次月经日期，请核对", "DATE_ORDER"))
    elif any(pregnancy_rules.gestational_days(lmp, v.visit_date) > limit for v in visits):
        errors.append(
            FieldError("lmp", "按新的末次月经，有产检孕周超过45周，请核对", "OUT_OF_RANGE")
        )
    if pregnancy.delivered_on is not None:
        days = pregnancy_rules.gestational_days(lmp, pregnancy.delivered_on)
        if not 20 * 7 <= days <= limit:
            errors.append(
                FieldError(
                    "lmp", "按新的末次月经，分娩孕周不在20至45周之间，请核对", "OUT_OF_RANGE"
                )
            )
    return errors, visits


async def _correct_pregnancy(
    session: AsyncSession,
    actor: Actor,
    pregnancy: Pregnancy,
    field: rules.CorrectableField,
    value: rules.Value,
    today: dt.date,
) -> None:
    attribute = field.attribute
    tracked = [attribute]
    visits: list[PrenatalVisit] = []
    if attribute == "lmp" and isinstance(value, dt.date):
        errors, visits = await _lmp_errors(session, pregnancy, value, today)
        tracked.append("edd")
    elif attribute in ("gravidity", "parity") and isinstance(value, int):
        pair = {"gravidity": pregnancy.gravidity, "parity": pregnancy.parity, attribute: value}
        errors = pregnancy_rules.check_gravidity_parity(pair["gravidity"], pair["parity"])
    elif attribute == "handbook_no":
        text = value if isinstance(value, str) else None
        errors = check.collect(check.text("handbookNo", text, label="手册编号", max_len=32))
        if (
            not errors
            and text
            and await session.scalar(
                select(Pregnancy.id).where(
                    Pregnancy.handbook_no == text, Pregnancy.id != pregnancy.id
                )
            )
        ):
            raise fail("handbookNo", f"手册编号 {text} 已被使用", "DUPLICATE")
    elif attribute == "booking_unit":
        text = value if isinstance(value, str) else None
        errors = check.collect(check.text("bookingUnit", text, label="建档单位", max_len=128))
    else:  # pragma: no cover - rules.FIELDS lists the pregnancy fields handled above
        raise TypeError(f"no correction for pregnancy field {attribute}")
    if errors:
        raise ValidationFailed(errors)
    before = snapshot(pregnancy, tracked)
    setattr(pregnancy, attribute, value)
    if attribute == "lmp" and isinstance(value, dt.date):
        if pregnancy.edd_from_lmp:
            pregnancy.edd = pregnancy_rules.edd_from_lmp(value)
        for visit in visits:
            visit.gestational_days = pregnancy_rules.gestational_days(value, visit.visit_date)
    await _keep_history(
        session,
        actor,
        pregnancy,
        "pregnancy",
        before,
        snapshot(pregnancy, tracked),
        pregnancy.patient_id,
    )
    await session.flush()
    await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)


@dataclass(frozen=True)
class FieldRef:
    target_type: str
    target_id: int
    attribute: str


MISSING = object()


async def current_values(session: AsyncSession, refs: Iterable[FieldRef]) -> dict[FieldRef, Any]:
    """The stored value of each field (rendered as requests keep it); MISSING when the
    record no longer exists. One query per target type."""
    wanted: dict[str, set[int]] = defaultdict(set)
    refs = list(refs)
    for ref in refs:
        wanted[ref.target_type].add(ref.target_id)
    rows: dict[tuple[str, int], Any] = {}
    for target_type, ids in wanted.items():
        model: Any = MODELS[target_type]
        for row in (await session.scalars(select(model).where(model.id.in_(ids)))).all():
            if isinstance(row, RiskFactor) and row.removed_at is not None:
                continue
            rows[(target_type, row.id)] = row
    found: dict[FieldRef, Any] = {}
    for ref in refs:
        row = rows.get((ref.target_type, ref.target_id))
        found[ref] = MISSING if row is None else rules.render(getattr(row, ref.attribute))
    return found
