"""What each 桂妇儿 record says: one named function per rule, in MaternityHub's own terms.

The builders return *canonical* content — MaternityHub field names and code values —
and `mapping.apply` turns it into the platform's field names and codes using the
versioned mapping configuration. The rules that matter to the hospital live here:

- `diagnosis_text` (1.28.2): the diagnoses of the high-risk factors, never other text;
- `treatment_text` (1.28.3, 1.28.4): the visit's one `remarks` field, as the handbook prints it;
- `nt_value` (1.28.5): the extracted NT as a number with at most one decimal;
- `screening_items` (1.28.7): the latest result of each item, with that item's own test date;
- `grading_on` : the colour and the purple flag of the factors (purple is the flag).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.models import User
from domain.lab.models import LabResult
from domain.lab.screening import SCREENING_CODES, latest_screening
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.pregnancy.rules import format_gestational_age, gestational_days
from domain.risk.models import RiskFactor
from domain.risk.rules import Grading, RiskColor, grade
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit
from integrations.guifuer.port import RecordType

HOSPITAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_SEVERITY = {"RED": 0, "ORANGE": 1, "YELLOW": 2, "PURPLE": 3}


@dataclass(frozen=True)
class Facts:
    """Everything the records of one pregnancy are built from, read in one session."""

    patient: Patient
    pregnancy: Pregnancy
    visits: Sequence[PrenatalVisit]
    doctor_names: dict[int, str]
    factors: Sequence[RiskFactor]  # removed ones included: a visit sees those of its day
    screening: dict[str, LabResult]
    exams: Sequence[UltrasoundExam]


@dataclass(frozen=True)
class Built:
    """One record's canonical content, before the mapping."""

    record_type: RecordType
    record_id: str
    content: dict[str, Any]
    patient: dict[str, str]
    # coded values the mapping must translate: canonical key → code list name
    coded: dict[str, str] = field(default_factory=dict)


async def load_facts(session: AsyncSession, pregnancy_id: int) -> Facts | None:
    pregnancy = await session.get(Pregnancy, pregnancy_id)
    if pregnancy is None:
        return None
    patient = await session.get(Patient, pregnancy.patient_id)
    if patient is None:
        return None
    visits = (
        await session.scalars(
            select(PrenatalVisit)
            .where(PrenatalVisit.pregnancy_id == pregnancy_id)
            .order_by(PrenatalVisit.visit_date, PrenatalVisit.id)
        )
    ).all()
    doctor_ids = {v.doctor_id for v in visits if v.doctor_id is not None}
    names = (
        dict(
            (
                await session.execute(
                    select(User.id, User.display_name).where(User.id.in_(doctor_ids))
                )
            ).all()
        )
        if doctor_ids
        else {}
    )
    factors = (
        await session.scalars(
            select(RiskFactor)
            .where(RiskFactor.pregnancy_id == pregnancy_id)
            .order_by(RiskFactor.recorded_at, RiskFactor.id)
        )
    ).all()
    screening = (await latest_screening(session, [pregnancy_id]))[pregnancy_id]
    exams = (
        await session.scalars(
            select(UltrasoundExam)
            .where(UltrasoundExam.pregnancy_id == pregnancy_id)
            .order_by(UltrasoundExam.exam_date, UltrasoundExam.id)
        )
    ).all()
    return Facts(patient, pregnancy, visits, names, factors, screening, exams)


def build_all(facts: Facts) -> list[Built]:
    """Every record the pregnancy has now, registration first."""
    patient = patient_ref(facts.patient)
    built = [registration(facts, patient), assessment(facts, patient)]
    built += [visit_record(facts, patient, visit) for visit in facts.visits]
    screening = screening_record(facts, patient)
    if screening is not None:
        built.append(screening)
    built += [nt for exam in facts.exams if (nt := nt_record(facts, patient, exam)) is not None]
    return built


# ---------------------------------------------------------------------------- the rules


def diagnosis_text(factors: Iterable[RiskFactor]) -> str | None:
    """诊断 (1.28.2): the factors' own diagnoses, most severe colour first, each once."""
    ordered = sorted(factors, key=lambda f: (_SEVERITY.get(f.color, 9), f.recorded_at, f.id))
    seen: list[str] = []
    for factor in ordered:
        text = (factor.diagnosis or "").strip()
        if text and text not in seen:
            seen.append(text)
    return "；".join(seen) or None


def treatment_text(visit: PrenatalVisit) -> str | None:
    """处理 (1.28.3): the visit's `remarks` exactly as entered — what the handbook prints too."""
    return visit.remarks or None


def nt_value(exam: UltrasoundExam) -> float | None:
    """NT in mm (1.28.5): the thickest fetus's value, rounded half-up to one decimal."""
    values = [
        float(n)
        for fetus in exam.fetuses or []
        if isinstance(n := fetus.get("nt_mm"), int | float) and not isinstance(n, bool)
    ]
    if not values and exam.nt_mm is not None:
        values = [exam.nt_mm]
    if not values:
        return None
    return float(Decimal(str(max(values))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def screening_items(latest: dict[str, LabResult]) -> list[dict[str, Any]]:
    """传染病检测 (1.28.7): each item's latest result with that item's own test date."""
    items = []
    for code in SCREENING_CODES:
        row = latest.get(code)
        if row is None:
            continue
        tested = row.specimen_at or row.reported_at
        items.append(
            {
                "item": code,
                "result": row.value_qualitative,
                "value": row.value_numeric,
                "unit": row.unit if row.value_numeric is not None else None,
                "test_date": local_date(tested).isoformat(),
            }
        )
    return items


def factors_on(factors: Iterable[RiskFactor], day: dt.date) -> list[RiskFactor]:
    """The factors in effect on a day: recorded by its end and not removed before it ended."""
    return [
        f
        for f in factors
        if local_date(f.recorded_at) <= day
        and (f.removed_at is None or local_date(f.removed_at) > day)
    ]


def current_factors(factors: Iterable[RiskFactor]) -> list[RiskFactor]:
    return [f for f in factors if f.removed_at is None]


def grading_on(factors: Iterable[RiskFactor]) -> Grading:
    """Colour (highest of the factors) and the purple (infectious) flag."""
    return grade((f.code, f.color) for f in factors)


# ---------------------------------------------------------------------------- the records


def patient_ref(patient: Patient) -> dict[str, str]:
    return {
        "idCardNo": patient.resident_id.upper(),
        "name": patient.name,
        "birthDate": patient.birth_date.isoformat(),
    }


def registration(facts: Facts, patient: dict[str, str]) -> Built:
    p = facts.pregnancy
    return Built(
        RecordType.MATERNAL_REGISTRATION,
        f"reg-{p.id}",
        {
            "booking_date": p.booking_date.isoformat(),
            "lmp": p.lmp.isoformat(),
            "edd": p.edd.isoformat(),
            "gravidity": p.gravidity,
            "parity": p.parity,
            "phone": facts.patient.phone,
            "address": facts.patient.address,
            "handbook_no": p.handbook_no,
        },
        patient,
    )


def visit_record(facts: Facts, patient: dict[str, str], visit: PrenatalVisit) -> Built:
    in_effect = factors_on(facts.factors, visit.visit_date)
    grading = grading_on(in_effect)
    doctor = facts.doctor_names.get(visit.doctor_id or -1) or visit.doctor_name
    return Built(
        RecordType.PRENATAL_VISIT,
        f"visit-{visit.id}",
        {
            "visit_date": visit.visit_date.isoformat(),
            "gestational_age": format_gestational_age(
                gestational_days(facts.pregnancy.lmp, visit.visit_date)
            ),
            "weight_kg": visit.weight_kg,
            "systolic_bp": visit.systolic_bp,
            "diastolic_bp": visit.diastolic_bp,
            "fundal_height_cm": visit.fundal_height_cm,
            "abdominal_circumference_cm": visit.abdominal_circumference_cm,
            "fetal_heart_rate": visit.fetal_heart_rate,
            "fetal_position": visit.fetal_position,
            "risk_color": grading.color.value,
            "infectious_flag": grading.infectious,
            "diagnosis": diagnosis_text(in_effect),
            "treatment": treatment_text(visit),
            "next_visit_date": visit.next_visit_date.isoformat() if visit.next_visit_date else None,
            "doctor_name": doctor,
        },
        patient,
        {"risk_color": "riskColor"},
    )


def assessment(facts: Facts, patient: dict[str, str]) -> Built:
    current = current_factors(facts.factors)
    grading = grading_on(current)
    moments = [facts.pregnancy.created_at]
    for f in facts.factors:
        moments += [f.recorded_at, f.updated_at]
        if f.removed_at is not None:
            moments.append(f.removed_at)
    ordered = sorted(current, key=lambda f: (_SEVERITY.get(f.color, 9), f.recorded_at, f.id))
    return Built(
        RecordType.HIGH_RISK_ASSESSMENT,
        f"hra-{facts.pregnancy.id}",
        {
            "assessed_at": max(moments).astimezone(HOSPITAL_TZ).isoformat(timespec="seconds"),
            "risk_color": grading.color.value if grading.color else RiskColor.GREEN.value,
            "infectious_flag": grading.infectious,
            "factors": [
                {
                    "code": f.code,
                    "name": f.name,
                    "color": f.color,
                    "diagnosis": f.diagnosis,
                    "icd10_code": f.icd10_code,
                }
                for f in ordered
            ],
            "diagnosis": diagnosis_text(current),
        },
        patient,
        {"risk_color": "riskColor", "factors[].color": "factorColor"},
    )


def screening_record(facts: Facts, patient: dict[str, str]) -> Built | None:
    items = screening_items(facts.screening)
    if not items:
        return None
    return Built(
        RecordType.INFECTIOUS_SCREENING,
        f"inf-{facts.pregnancy.id}",
        {"items": items},
        patient,
        {"items[].item": "screeningItem", "items[].result": "screeningResult"},
    )


def nt_record(facts: Facts, patient: dict[str, str], exam: UltrasoundExam) -> Built | None:
    nt = nt_value(exam)
    if nt is None:
        return None
    days = exam.gestational_days
    if days is None:
        days = gestational_days(facts.pregnancy.lmp, exam.exam_date)
    flagged = exam.nt_at_or_above_cutoff is True
    return Built(
        RecordType.ULTRASOUND_NT,
        f"nt-{exam.id}",
        {
            "exam_date": exam.exam_date.isoformat(),
            "gestational_age": format_gestational_age(days),
            "nt_mm": nt,
            "crl_mm": exam.crl_mm,
            "conclusion": f"NT {nt:g} mm" + ("，达到或超过界值，建议进一步检查" if flagged else ""),
        },
        patient,
    )


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(HOSPITAL_TZ).date()
