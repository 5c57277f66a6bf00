"""What the 母子健康手册 doctor pages print for a pregnancy, gathered from the records.

The pages follow the 国家基本公共卫生服务规范（第三版） antenatal forms: basic
information (cover), the first antenatal visit record and the 2nd–5th visit records
as one table. Everything printed comes from MaternityHub's own rows; a field it does
not hold (the father, occupation, history) is left as a line to be written by hand.
A visit's single `remarks` (备注/特殊记录) is printed exactly as the doctor wrote it —
the same text the 桂妇儿 push sends as 处理.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database
from domain.document.models import DocumentKind, StoredDocument
from domain.document.service import PDF, save_document
from domain.errors import NotFound
from domain.job.models import BackgroundJob, JobKind
from domain.job.pool import RenderPool
from domain.job.service import create_job
from domain.lab.models import LabResult
from domain.lab.screening import SCREENING_ITEMS
from domain.pregnancy.models import Pregnancy
from domain.pregnancy.rules import format_gestational_age, gestational_days
from domain.push.content import current_factors, load_facts
from domain.risk.rules import PURPLE
from domain.ultrasound.models import NtExtractionStatus, UltrasoundExam
from domain.visit.models import PrenatalVisit

# Hospital calendar days are Beijing time (as in domain.lab.service).
HOSPITAL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

COLOR_LABELS = {
    "GREEN": "绿色",
    "YELLOW": "黄色",
    "ORANGE": "橙色",
    "RED": "红色",
    PURPLE: "紫色",
}
COLOR_MEANINGS = {
    "GREEN": "低风险",
    "YELLOW": "一般风险",
    "ORANGE": "较高风险",
    "RED": "高风险",
    PURPLE: "传染性疾病",
}
# First-visit blood tests (辅助检查) in the order of the form.
BLOOD_ITEMS: tuple[tuple[str, str], ...] = (
    ("HGB", "血红蛋白"),
    ("PLT", "血小板计数"),
    ("GLU", "空腹血糖"),
    ("FERRITIN", "血清铁蛋白"),
)
BLOOD_TYPE_ITEMS = ("ABO", "RH")
_QUALITATIVE_LABELS = {"POSITIVE": "阳性", "NEGATIVE": "阴性", "WEAK_POSITIVE": "弱阳性"}
_NT_STATUS_LABELS = {
    NtExtractionStatus.PENDING: "待识别",
    NtExtractionStatus.MULTIPLE: "多胎（见各胎儿）",
    NtExtractionStatus.NOT_FOUND: "报告中未见NT",
    NtExtractionStatus.NOT_MEASURED: "未测",
    NtExtractionStatus.AMBIGUOUS: "报告表述不明确，请核对原文",
}


@dataclass(frozen=True)
class VisitLine:
    """One row of the visit table."""

    visit_date: dt.date
    gestational_age: str
    weight_kg: str
    blood_pressure: str
    fundal_height_cm: str
    abdominal_circumference_cm: str
    fetal_heart_rate: str
    fetal_position: str
    remarks: str
    next_visit_date: dt.date | None
    doctor: str


@dataclass(frozen=True)
class LabLine:
    """One test on the first-visit record, with its own test date."""

    name: str
    result: str
    tested_on: dt.date | None


@dataclass(frozen=True)
class UltrasoundLine:
    exam_date: dt.date
    gestational_age: str
    nt: str
    crl: str


@dataclass(frozen=True)
class FactorLine:
    name: str
    color: str
    color_label: str
    diagnosis: str


@dataclass(frozen=True)
class HandbookContent:
    """Everything the template prints; plain values, already formatted where needed."""

    pregnancy_id: int
    patient_name: str
    age_at_booking: int
    ethnicity: str
    resident_id: str
    phone: str
    address: str
    booking_unit: str
    booking_date: dt.date
    handbook_no: str
    lmp: dt.date
    edd: dt.date
    gravidity: int
    parity: int
    risk_color: str
    risk_color_label: str
    risk_meaning: str
    infectious: bool
    factors: tuple[FactorLine, ...]
    first_visit: VisitLine | None
    blood_tests: tuple[LabLine, ...]
    blood_type: tuple[LabLine, ...]
    screening: tuple[LabLine, ...]
    ultrasound: tuple[UltrasoundLine, ...]
    visits: tuple[VisitLine, ...]
    printed_on: dt.date

    @property
    def filename(self) -> str:
        number = self.handbook_no or f"P{self.pregnancy_id}"
        return f"母子健康手册-{self.patient_name}-{number}.pdf"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def tested_on(row: LabResult) -> dt.date:
    """The calendar day (Beijing time) the specimen was taken, else reported."""
    return (row.specimen_at or row.reported_at).astimezone(HOSPITAL_TZ).date()


def result_text(row: LabResult) -> str:
    """A lab value as printed: 阴性 / 阳性（12.3 S/CO） / 118 g/L / A."""
    if row.value_qualitative:
        label = _QUALITATIVE_LABELS.get(row.value_qualitative, row.value_qualitative)
        raw = (row.value_text or "").strip()
        return f"{label}（{raw}）" if raw and raw != label else label
    if row.value_numeric is not None:
        shown = f"{row.comparator or ''}{_number(row.value_numeric, 2)}"
        return f"{shown} {row.unit}" if row.unit else shown
    return (row.value_text or "").strip()


def visit_line(row: PrenatalVisit, *, doctor: str) -> VisitLine:
    pressure = (
        f"{row.systolic_bp}/{row.diastolic_bp}"
        if row.systolic_bp is not None and row.diastolic_bp is not None
        else ""
    )
    return VisitLine(
        visit_date=row.visit_date,
        gestational_age=format_gestational_age(row.gestational_days),
        weight_kg=_number(row.weight_kg),
        blood_pressure=pressure,
        fundal_height_cm=_number(row.fundal_height_cm),
        abdominal_circumference_cm=_number(row.abdominal_circumference_cm),
        fetal_heart_rate=str(row.fetal_heart_rate) if row.fetal_heart_rate is not None else "",
        fetal_position=row.fetal_position or "",
        remarks=row.remarks or "",
        next_visit_date=row.next_visit_date,
        doctor=doctor,
    )


def _nt_text(exam: UltrasoundExam) -> str:
    if exam.nt_mm is not None:
        return f"{_number(exam.nt_mm, 2)} mm"
    if exam.extraction_status == NtExtractionStatus.MULTIPLE and exam.fetuses:
        parts = [
            f"{fetus.get('label') or f'胎{i + 1}'} {_number(float(str(fetus['nt_mm'])), 2)} mm"
            for i, fetus in enumerate(exam.fetuses)
            if fetus.get("nt_mm") is not None
        ]
        if parts:
            return "；".join(parts)
    return _NT_STATUS_LABELS.get(NtExtractionStatus(exam.extraction_status), "")


async def _first_results(
    session: AsyncSession, pregnancy_id: int, codes: tuple[str, ...]
) -> dict[str, LabResult]:
    """Per item, the pregnancy's earliest result: what the first-visit record shows."""
    rows = await session.scalars(
        select(LabResult).where(
            LabResult.pregnancy_id == pregnancy_id, LabResult.item_code.in_(codes)
        )
    )
    first: dict[str, LabResult] = {}
    for row in rows:
        current = first.get(row.item_code)
        if current is None or (tested_on(row), row.id) < (tested_on(current), current.id):
            first[row.item_code] = row
    return first


async def gather(
    session: AsyncSession, pregnancy_id: int, *, today: dt.date | None = None
) -> HandbookContent | None:
    """The handbook content of a pregnancy, or None if there is no such pregnancy."""
    facts = await load_facts(session, pregnancy_id)
    if facts is None:
        return None
    pregnancy, patient, exams, screening = (
        facts.pregnancy,
        facts.patient,
        facts.exams,
        facts.screening,
    )
    factors = current_factors(facts.factors)
    first = await _first_results(
        session, pregnancy_id, tuple(code for code, _ in BLOOD_ITEMS) + BLOOD_TYPE_ITEMS
    )

    def line(code: str, name: str, results: dict[str, LabResult]) -> LabLine:
        row = results.get(code)
        if row is None:
            return LabLine(name=name, result="未检", tested_on=None)
        return LabLine(name=name, result=result_text(row), tested_on=tested_on(row))

    lines = [
        visit_line(v, doctor=facts.doctor_names.get(v.doctor_id or -1) or v.doctor_name or "")
        for v in facts.visits
    ]
    return HandbookContent(
        pregnancy_id=pregnancy.id,
        patient_name=patient.name,
        age_at_booking=_age(patient.birth_date, pregnancy.booking_date),
        ethnicity=patient.ethnicity or "",
        resident_id=patient.resident_id,
        phone=patient.phone or "",
        address=patient.address or "",
        booking_unit=pregnancy.booking_unit or "",
        booking_date=pregnancy.booking_date,
        handbook_no=pregnancy.handbook_no or "",
        lmp=pregnancy.lmp,
        edd=pregnancy.edd,
        gravidity=pregnancy.gravidity,
        parity=pregnancy.parity,
        risk_color=pregnancy.risk_color,
        risk_color_label=COLOR_LABELS.get(pregnancy.risk_color, pregnancy.risk_color),
        risk_meaning=COLOR_MEANINGS.get(pregnancy.risk_color, ""),
        infectious=pregnancy.infectious_flag,
        factors=tuple(
            FactorLine(
                name=f.name,
                color=f.color,
                color_label=COLOR_LABELS.get(f.color, f.color),
                diagnosis=f.diagnosis or "",
            )
            for f in factors
        ),
        first_visit=lines[0] if lines else None,
        blood_tests=tuple(line(code, name, first) for code, name in BLOOD_ITEMS),
        blood_type=(line("ABO", "ABO血型", first), line("RH", "Rh(D)血型", first)),
        screening=tuple(line(code, name, screening) for code, name in SCREENING_ITEMS),
        ultrasound=tuple(
            UltrasoundLine(
                exam_date=e.exam_date,
                gestational_age=(
                    format_gestational_age(e.gestational_days)
                    if e.gestational_days is not None
                    else format_gestational_age(gestational_days(pregnancy.lmp, e.exam_date))
                ),
                nt=_nt_text(e),
                crl=f"{_number(e.crl_mm)} mm" if e.crl_mm is not None else "",
            )
            for e in exams
        ),
        visits=tuple(lines),
        printed_on=today or dt.datetime.now(HOSPITAL_TZ).date(),
    )


def handbook_html(content: HandbookContent) -> str:
    """The handbook as HTML for `render_pdf` (autoescaped: remarks print as typed)."""
    from domain.document.pdf import render_template

    return render_template("handbook.html", h=content)


async def request_render(db: Database, actor: Actor, pregnancy_id: int) -> BackgroundJob:
    """Queue the rendering of a pregnancy's handbook; submit the job after this returns.

    Raises NotFound when there is no such pregnancy. The request is audited: the
    handbook prints the woman's data.
    """
    async with db.transaction() as session:
        pregnancy = await session.get(Pregnancy, pregnancy_id)
        if pregnancy is None:
            raise NotFound("pregnancyId", f"孕产档案 {pregnancy_id} 不存在")
        job = await create_job(
            session,
            kind=JobKind.RENDER_HANDBOOK,
            params={"pregnancyId": pregnancy_id},
            created_by=actor.username,
        )
        record_change(
            session,
            actor,
            "RENDER_HANDBOOK",
            entity="pregnancy",
            entity_id=pregnancy_id,
            patient_ids=[pregnancy.patient_id],
            detail={"jobId": job.id},
        )
    return job


@dataclass(frozen=True)
class Rendered:
    """A handbook version: the stored document, and whether it was new."""

    document_id: int
    sha256: str
    size: int
    pages: int
    new_version: bool
    patient_name: str

    def to_json(self) -> dict[str, object]:
        return {
            "documentId": self.document_id,
            "sha256": self.sha256,
            "size": self.size,
            "pages": self.pages,
            "newVersion": self.new_version,
        }


async def render_and_store(
    db: Database, pool: RenderPool, pregnancy_id: int, *, created_by: str
) -> Rendered:
    """Render a pregnancy's handbook in the pool and store it as a new version.

    Rendering is deterministic, so an unchanged record gives identical bytes: then
    the latest version is kept and no duplicate is stored. Raises NotFound for a
    missing pregnancy and RenderFailed when the render breaks a limit.
    """
    from domain.document.pdf import render_pdf_document

    async with db.reader() as session:
        content = await gather(session, pregnancy_id)
    if content is None:
        raise NotFound("pregnancyId", f"孕产档案 {pregnancy_id} 不存在")
    rendered = await pool.run(render_pdf_document, handbook_html(content))
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    async with db.transaction() as session:
        latest = await session.scalar(
            select(StoredDocument)
            .options(defer(StoredDocument.content))
            .where(
                StoredDocument.kind == DocumentKind.HANDBOOK,
                StoredDocument.pregnancy_id == pregnancy_id,
            )
            .order_by(StoredDocument.created_at.desc(), StoredDocument.id.desc())
            .limit(1)
        )
        if latest is not None and latest.sha256 == digest:
            return Rendered(
                latest.id, digest, latest.size, rendered.pages, False, content.patient_name
            )
        document = await save_document(
            session,
            kind=DocumentKind.HANDBOOK,
            filename=content.filename,
            media_type=PDF,
            content=rendered.pdf,
            created_by=created_by,
            pregnancy_id=pregnancy_id,
        )
        return Rendered(
            document.id, digest, document.size, rendered.pages, True, content.patient_name
        )
