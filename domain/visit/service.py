"""Recording and editing antenatal visits; every edit keeps the values it replaced."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.history.service import record_revision, snapshot
from domain.pregnancy import rules as pregnancy_rules
from domain.pregnancy.models import Pregnancy
from domain.pregnancy.service import load_for_update, require_active
from domain.push.outbox import refresh_pregnancy
from domain.visit.models import PrenatalVisit

REMARKS_MAX = 2000


@dataclass(frozen=True)
class VisitValues:
    """The values a doctor enters for a visit (None = not measured)."""

    visit_date: dt.date
    weight_kg: float | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    fundal_height_cm: float | None = None
    abdominal_circumference_cm: float | None = None
    fetal_heart_rate: int | None = None
    fetal_position: str | None = None
    remarks: str | None = None
    next_visit_date: dt.date | None = None


EDITABLE = tuple(VisitValues.__dataclass_fields__)
# GraphQL field names, so errors point at what the caller sent.
FIELD_NAMES = {
    "visit_date": "visitDate",
    "weight_kg": "weightKg",
    "systolic_bp": "systolicBp",
    "diastolic_bp": "diastolicBp",
    "fundal_height_cm": "fundalHeightCm",
    "abdominal_circumference_cm": "abdominalCircumferenceCm",
    "fetal_heart_rate": "fetalHeartRate",
    "fetal_position": "fetalPosition",
    "remarks": "remarks",
    "next_visit_date": "nextVisitDate",
}


def validate(values: VisitValues, pregnancy: Pregnancy, today: dt.date) -> list[FieldError]:
    errors = check.collect(
        check.number_range("weightKg", values.weight_kg, label="体重", low=30, high=200, unit="kg"),
        check.number_range(
            "systolicBp", values.systolic_bp, label="收缩压", low=60, high=260, unit="mmHg"
        ),
        check.number_range(
            "diastolicBp", values.diastolic_bp, label="舒张压", low=30, high=160, unit="mmHg"
        ),
        check.number_range(
            "fundalHeightCm", values.fundal_height_cm, label="宫高", low=5, high=50, unit="cm"
        ),
        check.number_range(
            "abdominalCircumferenceCm",
            values.abdominal_circumference_cm,
            label="腹围",
            low=50,
            high=160,
            unit="cm",
        ),
        check.number_range(
            "fetalHeartRate",
            values.fetal_heart_rate,
            label="胎心率",
            low=60,
            high=220,
            unit="次/分",
        ),
        check.text("fetalPosition", values.fetal_position, label="胎位", max_len=16),
        check.text("remarks", values.remarks, label="备注", max_len=REMARKS_MAX),
    )
    if (values.systolic_bp is None) != (values.diastolic_bp is None):
        errors.append(FieldError("diastolicBp", "血压需同时填写收缩压和舒张压", "INCOMPLETE"))
    elif (
        values.systolic_bp is not None
        and values.diastolic_bp is not None
        and values.diastolic_bp >= values.systolic_bp
    ):
        errors.append(FieldError("diastolicBp", "舒张压必须低于收缩压", "INCONSISTENT"))
    if values.visit_date > today:
        errors.append(FieldError("visitDate", "检查日期不能晚于今天", "DATE_IN_FUTURE"))
    elif values.visit_date < pregnancy.lmp:
        errors.append(FieldError("visitDate", "检查日期不能早于末次月经日期", "DATE_ORDER"))
    elif (
        pregnancy_rules.gestational_days(pregnancy.lmp, values.visit_date)
        > pregnancy_rules.MAX_GESTATION_DAYS
    ):
        errors.append(FieldError("visitDate", "检查日期对应孕周超过45周，请核对", "OUT_OF_RANGE"))
    if values.next_visit_date is not None:
        gap = (values.next_visit_date - values.visit_date).days
        if gap <= 0:
            errors.append(
                FieldError("nextVisitDate", "下次随访日期必须晚于本次检查日期", "DATE_ORDER")
            )
        elif gap > 180:
            errors.append(
                FieldError("nextVisitDate", "下次随访日期不能在本次检查180天之后", "OUT_OF_RANGE")
            )
    return errors


def _clean(values: VisitValues) -> VisitValues:
    remarks = values.remarks.strip() if values.remarks else None
    position = values.fetal_position.strip() if values.fetal_position else None
    return VisitValues(
        **{**asdict(values), "remarks": remarks or None, "fetal_position": position or None}
    )


async def record_visit(
    db: Database,
    actor: Actor,
    pregnancy_id: int,
    values: VisitValues,
    *,
    today: dt.date | None = None,
) -> PrenatalVisit:
    """Record a visit on an active pregnancy; the gestational age comes from the LMP."""
    today = today or dt.date.today()
    values = _clean(values)
    async with db.transaction() as session:
        pregnancy = await load_for_update(session, pregnancy_id, field="pregnancyId")
        require_active(pregnancy, "pregnancyId")
        errors = validate(values, pregnancy, today)
        if errors:
            raise ValidationFailed(errors)
        visit = PrenatalVisit(
            pregnancy_id=pregnancy.id,
            gestational_days=pregnancy_rules.gestational_days(pregnancy.lmp, values.visit_date),
            doctor_id=actor.user_id,
            doctor_name=actor.username,
            version=1,
            **asdict(values),
        )
        session.add(visit)
        await session.flush()
        record_change(
            session,
            actor,
            "CREATE",
            entity="prenatal_visit",
            entity_id=visit.id,
            patient_ids=[pregnancy.patient_id],
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return visit


async def edit_visit(
    db: Database,
    actor: Actor,
    visit_id: int,
    changes: dict[str, Any],
    *,
    today: dt.date | None = None,
    allow_closed: bool = False,
) -> PrenatalVisit:
    """Change some values of a visit (keys are `VisitValues` fields); history keeps the old ones.

    `allow_closed` lets an approved correction request (domain/correction) change a visit of
    a delivered or archived pregnancy, which doctors cannot edit.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    today = today or dt.date.today()
    async with db.transaction() as session:
        visit = await session.get(PrenatalVisit, visit_id, with_for_update=True)
        if visit is None:
            raise NotFound("visitId", "产检记录不存在")
        pregnancy = await load_for_update(session, visit.pregnancy_id, field="visitId")
        if not allow_closed:
            require_active(pregnancy, "visitId")
        before = snapshot(visit, EDITABLE)
        merged = _clean(VisitValues(**{**{k: getattr(visit, k) for k in EDITABLE}, **changes}))
        errors = validate(merged, pregnancy, today)
        if errors:
            raise ValidationFailed(errors)
        after = {k: getattr(merged, k) for k in EDITABLE}
        if snapshot_equal(before, merged):
            return visit
        for key, value in after.items():
            setattr(visit, key, value)
        visit.gestational_days = pregnancy_rules.gestational_days(pregnancy.lmp, merged.visit_date)
        visit.version += 1
        record_revision(
            session,
            actor,
            entity="prenatal_visit",
            entity_id=visit.id,
            version=visit.version,
            before=before,
            after=snapshot(visit, EDITABLE),
        )
        record_change(
            session,
            actor,
            "UPDATE",
            entity="prenatal_visit",
            entity_id=visit.id,
            patient_ids=[pregnancy.patient_id],
            detail={"fields": sorted(k for k in after if before[k] != snapshot(visit, [k])[k])},
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return visit


def snapshot_equal(before: dict[str, object], values: VisitValues) -> bool:
    probe = PrenatalVisit(**asdict(values))
    return before == snapshot(probe, EDITABLE)
