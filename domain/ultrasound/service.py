"""Ultrasound (B超) reports into `UltrasoundExam` rows, whatever channel they arrive on.

`record_report` is the one place where report text becomes an exam: the NT (颈项透明层),
CRL (头臀长) and gestational age are read by `extract_nt`, the extractor's status is kept
(OK is stored as EXTRACTED), and an exam already stored under the same (source, source_id)
is returned unchanged — a resend or a reprocess never overwrites what a doctor may have
corrected since.

`process_diagnostic_report` turns one stored FHIR `DiagnosticReport` (RIS) into an exam:
the woman from `subject.identifier`, the date from `effectiveDateTime`, the text from
`conclusion`, `presentedForm` (base64 text/plain) and `text.div`. Problems come back as a
`ReportProblem` with a code and a Chinese explanation a person can act on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import html
import json
import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import utcnow
from domain.lab.service import pregnancy_for
from domain.patient.models import Patient
from domain.push.outbox import refresh_pregnancy
from domain.ultrasound.models import NtExtractionStatus, UltrasoundExam
from integrations.ultrasound.nt import MULTIPLE, OK, extract_nt

RIS_SOURCE = "RIS"
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
MATCHED_TEXT_MAX = 256

PARSE_ERROR = "PARSE_ERROR"
UNKNOWN_PATIENT = "UNKNOWN_PATIENT"
AMBIGUOUS_PATIENT = "AMBIGUOUS_PATIENT"
EMPTY_REPORT = "EMPTY_REPORT"

_EXTRACTION_STATUS = {OK: NtExtractionStatus.EXTRACTED, MULTIPLE: NtExtractionStatus.MULTIPLE}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)


def gestational_days(text: str | None) -> int | None:
    """Days from a "W+D" gestational age ("12+3" → 87); None when absent or malformed."""
    match = re.fullmatch(r"(\d{1,2})\+([0-6])", text or "")
    return int(match.group(1)) * 7 + int(match.group(2)) if match else None


def _clean(text: str) -> str:
    # NUL cannot be stored in PostgreSQL text and is never meaningful in a report.
    return text.replace("\x00", "")


async def record_report(
    session: AsyncSession,
    *,
    patient_id: int,
    pregnancy_id: int | None,
    exam_date: dt.date,
    text: str,
    source: str,
    source_id: str,
    cutoff_mm: float,
) -> UltrasoundExam:
    """The exam for this report, read and added in the caller's transaction.

    Idempotent by (source, source_id): an exam already stored is returned as it is.
    """
    existing = await session.scalar(
        select(UltrasoundExam).where(
            UltrasoundExam.source == source, UltrasoundExam.source_id == source_id
        )
    )
    if existing is not None:
        return existing
    text = _clean(text)
    extraction = extract_nt(text)
    if extraction.status == OK and extraction.nt_mm is not None:
        thick: bool | None = extraction.nt_mm >= cutoff_mm
    elif extraction.status == MULTIPLE:
        thick = any(f.nt_mm >= cutoff_mm for f in extraction.fetuses)
    else:
        thick = None
    matched = extraction.matched_text
    exam = UltrasoundExam(
        patient_id=patient_id,
        pregnancy_id=pregnancy_id,
        exam_date=exam_date,
        report_text=text,
        nt_mm=extraction.nt_mm if extraction.status == OK else None,
        crl_mm=extraction.crl_mm,
        gestational_days=gestational_days(extraction.gestational_age),
        extraction_status=_EXTRACTION_STATUS.get(extraction.status, extraction.status),
        matched_text=_clean(matched)[:MATCHED_TEXT_MAX] if matched else None,
        nt_at_or_above_cutoff=thick,
        fetuses=[f.to_json() for f in extraction.fetuses],
        source=source,
        source_id=source_id,
        received_at=utcnow(),
    )
    session.add(exam)
    await session.flush()
    if pregnancy_id is not None:
        await refresh_pregnancy(session, pregnancy_id, changed_by=None)
    return exam


# --------------------------------------------------------------------------- FHIR DiagnosticReport


@dataclass(frozen=True)
class ReportProblem:
    """Why a DiagnosticReport could not be recorded: code, Chinese explanation, FHIR path."""

    code: str
    detail: str
    path: str = ""


@dataclass(frozen=True)
class Identifier:
    system: str
    value: str


@dataclass(frozen=True)
class DiagnosticReport:
    """What MaternityHub reads from a FHIR DiagnosticReport."""

    id: str | None
    identifiers: tuple[Identifier, ...]
    exam_date: dt.date
    text: str


def report_id(raw: bytes) -> str | None:
    """The resource id when the body is a JSON object with a valid FHIR id, else None."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and _FHIR_ID.fullmatch(value) else None


def exam_source_id(message_id: str) -> str:
    """The exam's source id for a FHIR report (kept apart from HL7 MSH-10 ids)."""
    return f"DiagnosticReport/{message_id}"[:128]


def _exam_date(resource: dict[str, object]) -> dt.date | ReportProblem:
    value = resource.get("effectiveDateTime")
    path = "DiagnosticReport.effectiveDateTime"
    if value is None:
        period = resource.get("effectivePeriod")
        value = period.get("start") if isinstance(period, dict) else None
        path = "DiagnosticReport.effectivePeriod.start"
    if not isinstance(value, str) or not value.strip():
        return ReportProblem(
            PARSE_ERROR, "报告缺少检查时间（effectiveDateTime），无法确定检查日期", path
        )
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ReportProblem(PARSE_ERROR, f"检查时间 {text[:40]} 不是有效的日期时间", path)
    if moment.tzinfo is None:
        return moment.date()
    try:
        return moment.astimezone(LOCAL_TZ).date()
    except OverflowError:  # the calendar's edge (year 1 / 9999) crossed by the offset
        return ReportProblem(PARSE_ERROR, f"检查时间 {text[:40]} 超出可用的日期范围", path)


def _identifiers(resource: dict[str, object]) -> tuple[Identifier, ...]:
    subject = resource.get("subject")
    raw = subject.get("identifier") if isinstance(subject, dict) else None
    items = raw if isinstance(raw, list) else [raw]
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"].strip():
            system = item.get("system")
            found.append(
                Identifier(system if isinstance(system, str) else "", item["value"].strip())
            )
    return tuple(found)


def _div_text(div: str) -> str:
    with_breaks = _BLOCK_END.sub("\n", div)
    lines = (line.strip() for line in html.unescape(_TAG.sub("", with_breaks)).splitlines())
    return "\n".join(line for line in lines if line)


def _report_text(resource: dict[str, object]) -> str | ReportProblem:
    parts: list[str] = []
    conclusion = resource.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        parts.append(conclusion.strip())
    forms = resource.get("presentedForm")
    for index, form in enumerate(forms if isinstance(forms, list) else []):
        if not isinstance(form, dict) or not isinstance(form.get("data"), str):
            continue
        content_type = str(form.get("contentType") or "text/plain").lower()
        if not content_type.startswith("text/plain"):
            continue
        path = f"DiagnosticReport.presentedForm[{index}].data"
        try:
            decoded = base64.b64decode(form["data"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return ReportProblem(
                PARSE_ERROR, "报告附件（presentedForm）不是有效的 base64 UTF-8 文本", path
            )
        if decoded.strip():
            parts.append(decoded.strip())
    narrative = resource.get("text")
    div = narrative.get("div") if isinstance(narrative, dict) else None
    if isinstance(div, str):
        plain = _div_text(div)
        if plain:
            parts.append(plain)
    unique = list(dict.fromkeys(parts))
    return _clean("\n".join(unique))


def parse_diagnostic_report(raw: bytes) -> DiagnosticReport | ReportProblem:
    """Read one DiagnosticReport (JSON, UTF-8); never raises."""
    try:
        resource = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ReportProblem(PARSE_ERROR, "无法解析：收到的内容不是有效的 JSON（UTF-8）")
    if not isinstance(resource, dict) or resource.get("resourceType") != "DiagnosticReport":
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        return ReportProblem(
            PARSE_ERROR,
            f"资源类型 {kind or '（空）'} 不是 DiagnosticReport，本接口只接收超声报告",
            "resourceType",
        )
    identifiers = _identifiers(resource)
    if not identifiers:
        return ReportProblem(
            UNKNOWN_PATIENT,
            "报告没有病人标识（subject.identifier），无法确定是哪位孕妇",
            "DiagnosticReport.subject.identifier",
        )
    exam_date = _exam_date(resource)
    if isinstance(exam_date, ReportProblem):
        return exam_date
    text = _report_text(resource)
    if isinstance(text, ReportProblem):
        return text
    if not text:
        return ReportProblem(
            EMPTY_REPORT,
            "超声报告没有正文（conclusion、presentedForm、text 均为空），未保存",
            "DiagnosticReport.conclusion",
        )
    rid = resource.get("id")
    return DiagnosticReport(rid if isinstance(rid, str) else None, identifiers, exam_date, text)


async def match_patient(
    session: AsyncSession, identifiers: tuple[Identifier, ...]
) -> Patient | ReportProblem:
    """The one registered woman the identifiers name, or why there is none."""
    resident = {i.value.upper() for i in identifiers if i.system == RESIDENT_ID_SYSTEM}
    other = {i.value for i in identifiers if i.system != RESIDENT_ID_SYSTEM}
    conditions = []
    if resident:
        conditions.append(Patient.resident_id.in_(resident))
    if other:
        conditions += [
            Patient.resident_id.in_({v.upper() for v in other}),
            Patient.lis_record_no.in_(other),
            Patient.emr_record_no.in_(other),
        ]
    rows = (await session.scalars(select(Patient).where(or_(*conditions)))).all()
    shown = "、".join(i.value for i in identifiers)
    path = "DiagnosticReport.subject.identifier"
    if not rows:
        return ReportProblem(
            UNKNOWN_PATIENT,
            f"未找到对应的孕妇：标识 {shown} 与已登记孕妇的身份证号码、检验系统病人号、"
            "电子病历号都不一致。请先登记该孕妇，再重新处理此消息。",
            path,
        )
    if len(rows) > 1:
        return ReportProblem(
            AMBIGUOUS_PATIENT,
            f"标识 {shown} 对应了 {len(rows)} 位不同的孕妇，无法确定是哪一位。"
            "请核对这些孕妇的标识，改正后重新处理此消息。",
            path,
        )
    return rows[0]


async def process_diagnostic_report(
    session: AsyncSession, raw: bytes, message_id: str, cutoff_mm: float
) -> UltrasoundExam | ReportProblem:
    """Record the exam of one stored DiagnosticReport in the caller's transaction."""
    report = parse_diagnostic_report(raw)
    if isinstance(report, ReportProblem):
        return report
    patient = await match_patient(session, report.identifiers)
    if isinstance(patient, ReportProblem):
        return patient
    return await record_report(
        session,
        patient_id=patient.id,
        pregnancy_id=await pregnancy_for(session, patient.id, report.exam_date),
        exam_date=report.exam_date,
        text=report.text,
        source=RIS_SOURCE,
        source_id=exam_source_id(message_id),
        cutoff_mm=cutoff_mm,
    )
