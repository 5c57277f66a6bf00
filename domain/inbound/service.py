"""Receiving HL7 v2 results: store first, then process; reprocess after a fix.

`InboundProcessor.receive(raw)` stores the bytes as an `InboundMessage` in a committed
transaction (a resend of the same MSH-10 is found, not stored twice), then processes it
in a transaction of its own:

* the patient is matched by PID-3 (the LIS record number, or an 18-character resident ID);
* each OBX becomes an `IncomingResult` for `store_results` (source "LIS", source id
  MSH-10/OBX set id, or MSH-10/position when set ids are missing or repeat);
* an ultrasound report (OBR-4 or OBX-3 naming 超声/B超/US, LOINC 11525-3/18744-0) becomes
  an `UltrasoundExam` (source "RIS", source id MSH-10) with the NT read by `extract_nt`;
  an exam already stored under that id is left as it is.

The message ends PROCESSED, or ERROR with a code, a Chinese explanation a person can act
on and the positions of the problems. Field problems that do not stop processing (a
malformed birth date) are recorded on a PROCESSED message too. Results of an unmapped
item are not stored; the mapped ones are, and the message stays ERROR/UNMAPPED_ITEM until
it is reprocessed after the dictionary is fixed (source ids make reprocessing idempotent).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.inbound.models import InboundMessage, InboundStatus
from domain.lab.mapping import LabDictionary
from domain.lab.normalise import qualitative_of
from domain.lab.service import IncomingResult, pregnancy_for, store_results
from domain.parameter.service import Parameters
from domain.patient.models import Patient
from domain.patient.rules import mask_resident_id
from domain.ultrasound import service as ultrasound
from integrations.lis import hl7

log = logging.getLogger(__name__)

CHANNEL_HL7 = "HL7_MLLP"
CHANNEL_FHIR_RIS = "FHIR_RIS"  # DiagnosticReports posted to /fhir (api/fhir_inbound.py)
LAB_SOURCE = "LIS"
ULTRASOUND_SOURCE = "RIS"
NT_CUTOFF_KEY = "nt_cutoff_mm"
NT_CUTOFF_DEFAULT = 3.0
STORE_TIMEOUT_S = 10.0

PARSE_ERROR = "PARSE_ERROR"
UNSUPPORTED_MESSAGE_TYPE = "UNSUPPORTED_MESSAGE_TYPE"
MISSING_SEGMENT = "MISSING_SEGMENT"
UNKNOWN_PATIENT = "UNKNOWN_PATIENT"
AMBIGUOUS_PATIENT = "AMBIGUOUS_PATIENT"
UNMAPPED_ITEM = "UNMAPPED_ITEM"
EMPTY_REPORT = "EMPTY_REPORT"
INTERNAL_ERROR = "INTERNAL_ERROR"
# What the sender has to fix (AE); an INTERNAL_ERROR is ours to fix, not the sender's.
CONTENT_ERRORS = frozenset(
    {
        PARSE_ERROR,
        UNSUPPORTED_MESSAGE_TYPE,
        MISSING_SEGMENT,
        UNKNOWN_PATIENT,
        AMBIGUOUS_PATIENT,
        UNMAPPED_ITEM,
        EMPTY_REPORT,
    }
)

_ULTRASOUND_WORDS = re.compile(r"超声|B超|彩超|ultrasound|sonograph|(?<![A-Za-z])US(?![A-Za-z])")
_ULTRASOUND_LOINC = frozenset({"11525-3", "18744-0"})
_TEXT_TYPES = frozenset({"TX", "FT", "ST"})
_SKIPPED_STATUS = {
    "D": "结果已被检验系统删除",
    "W": "结果被检验系统标为错误",
    "X": "结果无法获得",
}
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9])\d{17}[0-9Xx](?![0-9A-Za-z])")


def mask_identifiers(text: str) -> str:
    """Text with every 18-character resident ID masked (for callers who may not see them)."""
    return _RESIDENT_ID_IN_TEXT.sub(lambda m: mask_resident_id(m.group(0)), text)


def _clean(text: str, limit: int | None = None) -> str:
    # NUL cannot be stored in PostgreSQL text or JSONB and is never meaningful here.
    cleaned = text.replace("\x00", "")
    return cleaned[:limit] if limit is not None else cleaned


def new_message_id() -> str:
    """A control id for a message that has none (or is not HL7): unique, marked as ours."""
    return "MHUB-" + uuid.uuid4().hex[:20].upper()


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """What processing one message did."""

    status: str
    patient_id: int | None = None
    error_code: str | None = None
    error_detail: str | None = None
    error_fields: list[dict[str, object]] = field(default_factory=list)
    recorded: bool = True  # False: the outcome could not be written (database unavailable)


@dataclass(frozen=True)
class Receipt:
    """What the receiver did with one frame; the listener answers AA/AE/AR from it."""

    retry_later: bool = False  # nothing stored, or stored but not processed: send it again
    message_id: str = ""
    inbound_id: int | None = None
    status: str | None = None
    duplicate: bool = False
    error_code: str | None = None
    detail: str | None = None
    error_fields: tuple[dict[str, object], ...] = ()

    @classmethod
    def unavailable(cls, detail: str, message_id: str = "") -> Receipt:
        return cls(retry_later=True, message_id=message_id, detail=detail)

    @property
    def content_error(self) -> bool:
        return self.status == InboundStatus.ERROR and self.error_code in CONTENT_ERRORS


def _fields(errors: Sequence[hl7.Hl7Error]) -> list[dict[str, object]]:
    return [
        {"field": _clean(e.field, 64), "message": _clean(e.message, 500), "code": e.code}
        for e in errors
    ]


def _failed(
    code: str,
    detail: str,
    errors: Sequence[hl7.Hl7Error],
    patient_id: int | None = None,
) -> Outcome:
    return Outcome(
        status=InboundStatus.ERROR,
        patient_id=patient_id,
        error_code=code,
        error_detail=_clean(detail),
        error_fields=_fields(errors),
    )


# --------------------------------------------------------------------------- patients


def _identifier_text(identifier: hl7.Identifier) -> str:
    # Stored as sent; readers who may not see resident IDs get them masked on display.
    value = identifier.value
    return f"{value}（{identifier.type_code}）" if identifier.type_code else value


async def _match_patient(
    session: AsyncSession, patient: hl7.PatientIdentification
) -> Patient | hl7.Hl7Error:
    """The one patient PID-3 names, or why there is none."""
    values = {i.value for i in patient.identifiers}
    resident_ids = {i.value.upper() for i in patient.identifiers if i.looks_like_resident_id}
    if not values:
        return hl7.Hl7Error(
            "PID-3", "消息中没有病人标识（PID-3），无法确定是哪位孕妇", UNKNOWN_PATIENT
        )
    rows = (
        await session.scalars(
            select(Patient).where(
                or_(Patient.lis_record_no.in_(values), Patient.resident_id.in_(resident_ids))
            )
        )
    ).all()
    shown = "、".join(_identifier_text(i) for i in patient.identifiers)
    if not rows:
        return hl7.Hl7Error(
            "PID-3",
            f"PID-3 标识 {shown}（{patient.name or '无姓名'}）与已登记孕妇的检验系统病人号和身份证号码都不一致",
            UNKNOWN_PATIENT,
        )
    if len(rows) > 1:
        return hl7.Hl7Error(
            "PID-3",
            f"PID-3 标识 {shown} 对应了 {len(rows)} 位不同的孕妇，无法确定是哪一位",
            AMBIGUOUS_PATIENT,
        )
    return rows[0]


def _name_warning(patient: Patient, pid: hl7.PatientIdentification) -> hl7.Hl7Error | None:
    if not pid.family_name and not pid.given_name:
        return None

    def key(text: str) -> str:
        return re.sub(r"[\s·.]", "", text).upper()

    registered = key(patient.name)
    if registered in (key(pid.family_name + pid.given_name), key(pid.given_name + pid.family_name)):
        return None
    return hl7.Hl7Error(
        "PID-5",
        f"消息中的姓名 {pid.name} 与登记的孕妇姓名 {patient.name} 不一致，请核对",
        "NAME_MISMATCH",
    )


# --------------------------------------------------------------------------- observations


def _is_ultrasound(order: hl7.Order) -> bool:
    def names_ultrasound(code: hl7.Coded) -> bool:
        if {code.identifier, code.alt_identifier} & _ULTRASOUND_LOINC:
            return True
        return any(
            _ULTRASOUND_WORDS.search(part)
            for part in (code.identifier, code.text, code.alt_identifier, code.alt_text)
            if part
        )

    return names_ultrasound(order.service) or any(
        names_ultrasound(o.code) for o in order.observations
    )


def _raw_value(obs: hl7.Observation) -> str:
    coded = obs.coded_value
    if coded is None:
        return obs.value
    for candidate in (coded.text, coded.alt_text, coded.alt_identifier, coded.identifier):
        if candidate and qualitative_of(candidate) is not None:
            return candidate
    return obs.value


def _local_codes(code: hl7.Coded) -> list[str]:
    """The local codes of OBX-3, primary first; LOINC codes are not local."""
    codes = []
    if code.identifier and code.system.upper() != "LN":
        codes.append(code.identifier)
    if code.alt_identifier and code.alt_system.upper() != "LN":
        codes.append(code.alt_identifier)
    return codes


def _source_id(message_id: str, key: str) -> str:
    source_id = f"{message_id}/{key}"
    if len(source_id) <= 128:
        return source_id
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
    return f"{digest}/{key}"[:128]


def _keys(observations: Sequence[hl7.Observation]) -> list[str]:
    """OBX set ids when they identify each OBX of the message, else positions."""
    set_ids = [o.set_id for o in observations]
    if all(set_ids) and len(set(set_ids)) == len(set_ids):
        return set_ids
    return [str(o.position) for o in observations]


def _local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(hl7.LOCAL_TZ).date()


# --------------------------------------------------------------------------- processing


@dataclass
class _Work:
    """One message being processed: the facts it needs and what it has found."""

    row: InboundMessage
    report: hl7.ObservationReport
    patient: Patient
    dictionary: LabDictionary
    cutoff: float
    notes: list[hl7.Hl7Error] = field(default_factory=list)
    unmapped: list[hl7.Hl7Error] = field(default_factory=list)
    results: list[IncomingResult] = field(default_factory=list)
    exams: int = 0

    def reported_at(self, order: hl7.Order, obs: hl7.Observation | None = None) -> dt.datetime:
        return (
            order.reported_at
            or (obs.analysed_at if obs is not None else None)
            or self.report.header.sent_at
            or self.row.received_at
        )


def _lab_result(work: _Work, order: hl7.Order, obs: hl7.Observation, key: str) -> None:
    if obs.status in _SKIPPED_STATUS:
        work.notes.append(
            hl7.Hl7Error(
                obs.field(11), f"{obs.code.label}：{_SKIPPED_STATUS[obs.status]}，未保存", "SKIPPED"
            )
        )
        return
    raw_value = _raw_value(obs).strip()
    if not raw_value:
        work.notes.append(
            hl7.Hl7Error(obs.field(5), f"{obs.code.label}：结果为空，未保存", "MISSING_VALUE")
        )
        return
    loinc = obs.code.code_in("LN")
    codes = _local_codes(obs.code)
    # Some LIS send only the item name ("^乙肝表面抗原"): the dictionary maps names too.
    candidates = [*codes, obs.code.text] if obs.code.text else codes
    local = next((c for c in candidates if work.dictionary.resolve(c) is not None), None)
    if local is None and (loinc is None or work.dictionary.resolve(None, loinc) is None):
        code = " / ".join(dict.fromkeys(c for c in (*codes, loinc) if c)) or "（无编码）"
        name = f"（{obs.code.text}）" if obs.code.text else " "
        work.unmapped.append(
            hl7.Hl7Error(obs.field(3), f"检验项目 {code}{name}未在数据字典中映射", UNMAPPED_ITEM)
        )
        return
    work.results.append(
        IncomingResult(
            patient_id=work.patient.id,
            source=LAB_SOURCE,
            source_id=_source_id(work.row.message_id, key),
            raw_value=_clean(raw_value),
            reported_at=work.reported_at(order, obs),
            local_code=_clean(local or (candidates[0] if candidates else ""), 64) or None,
            loinc=loinc,
            local_name=_clean(obs.code.text, 128) or None,
            interpretation=obs.abnormal_flags[0] if obs.abnormal_flags else None,
            unit=_clean(obs.unit) or None,
            reference_range=_clean(obs.reference_range) or None,
            abnormal_flag=obs.abnormal_flags[0] if obs.abnormal_flags else None,
            specimen_at=obs.observed_at or order.specimen_at,
        )
    )


def _report_text(order: hl7.Order) -> str:
    lines = []
    for obs in order.observations:
        if obs.value_type in _TEXT_TYPES:
            lines.append(obs.value)
        elif obs.value:
            lines.append(f"{obs.code.label}：{obs.value}{obs.unit}")
    return _clean("\n".join(line for line in lines if line.strip()))


async def _ultrasound(session: AsyncSession, work: _Work, order: hl7.Order, source_id: str) -> None:
    text = _report_text(order)
    if not text:
        work.notes.append(
            hl7.Hl7Error(
                f"OBR[{order.position}]", "超声报告没有正文（TX/FT/ST 结果），未保存", EMPTY_REPORT
            )
        )
        return
    # An exam already stored under this id (a resend or a reprocess) is left as it is:
    # a doctor may have corrected it since, and a report's text does not change.
    first = order.observations[0] if order.observations else None
    taken = (
        order.specimen_at
        or (first.observed_at if first is not None else None)
        or work.reported_at(order)
    )
    exam_date = _local_date(taken)
    await ultrasound.record_report(
        session,
        patient_id=work.patient.id,
        pregnancy_id=await pregnancy_for(session, work.patient.id, exam_date),
        exam_date=exam_date,
        text=text,
        source=ULTRASOUND_SOURCE,
        source_id=source_id,
        cutoff_mm=work.cutoff,
    )
    work.exams += 1


async def _process(
    session: AsyncSession, row: InboundMessage, dictionary: LabDictionary, cutoff: float
) -> Outcome:
    message, _ = hl7.parse_bytes(row.raw)
    if not message.is_hl7:
        return _failed(
            PARSE_ERROR,
            "无法解析：收到的内容不是 HL7 v2 消息（应以 MSH 段开头）。请检查发送方的接口配置与消息格式。",
            message.errors,
        )
    report = hl7.read_oru(message)
    notes = list(report.errors)
    header = report.header
    if header.message_code != "ORU" or header.trigger not in ("R01", ""):
        return _failed(
            UNSUPPORTED_MESSAGE_TYPE,
            f"不支持的消息类型 {header.message_type or '（空）'}：本接口只接收检验/超声结果 ORU^R01。请检查发送方的接口配置。",
            [
                hl7.Hl7Error(
                    "MSH-9",
                    f"消息类型 {header.message_type or '（空）'} 不是 ORU^R01",
                    UNSUPPORTED_MESSAGE_TYPE,
                ),
                *notes,
            ],
        )
    if report.patient is None:
        return _failed(
            MISSING_SEGMENT,
            "消息缺少病人信息段（PID），无法确定是哪位孕妇。请检验系统补充 PID 段后重发。",
            [hl7.Hl7Error("PID", "缺少 PID 段", MISSING_SEGMENT), *notes],
        )
    if not report.observations:
        return _failed(
            MISSING_SEGMENT,
            "消息中没有检验结果（OBX 段）。请检验系统确认后重发。",
            [hl7.Hl7Error("OBX", "缺少 OBX 段", MISSING_SEGMENT), *notes],
        )
    patient = await _match_patient(session, report.patient)
    if isinstance(patient, hl7.Hl7Error):
        problem = patient
        if problem.code == AMBIGUOUS_PATIENT:
            detail = f"{problem.message}。请核对这些孕妇的检验系统病人号与身份证号码，改正后重新处理此消息。"
        else:
            detail = (
                f"未找到对应的孕妇：{problem.message}。"
                "请先登记该孕妇（填写检验系统病人号），再重新处理此消息。"
            )
        return _failed(problem.code, detail, [problem, *notes])
    name_warning = _name_warning(patient, report.patient)
    if name_warning is not None:
        notes.append(name_warning)

    work = _Work(row, report, patient, dictionary, cutoff, notes)
    keys = dict(
        zip((o.position for o in report.observations), _keys(report.observations), strict=True)
    )
    ultrasound = {order.position for order in report.orders if _is_ultrasound(order)}
    for order in report.orders:
        if order.position in ultrasound:
            # One report per message is the rule; several get the OBR position appended.
            source_id = (
                row.message_id if len(ultrasound) == 1 else f"{row.message_id}/{order.position}"
            )
            await _ultrasound(session, work, order, source_id[:128])
            continue
        for obs in order.observations:
            _lab_result(work, order, obs, keys[obs.position])
    await store_results(session, dictionary, work.results)
    if work.unmapped:
        saved = len(work.results)
        listing = "；".join(e.message for e in work.unmapped[:5])
        more = f" 等 {len(work.unmapped)} 项" if len(work.unmapped) > 5 else ""
        return _failed(
            UNMAPPED_ITEM,
            f"{len(work.unmapped)} 个检验项目未在数据字典中映射（{listing}{more}），其余 {saved} 项已保存。"
            "请在数据字典中为这些检验项目编码添加映射，再重新处理此消息。",
            [*work.unmapped, *work.notes],
            patient.id,
        )
    empty = [n for n in work.notes if n.code == EMPTY_REPORT]
    if empty and not work.results and not work.exams:
        return _failed(
            EMPTY_REPORT,
            "超声报告没有正文，未保存。请超声系统补充报告文字后重发。",
            work.notes,
            patient.id,
        )
    return Outcome(
        status=InboundStatus.PROCESSED,
        patient_id=patient.id,
        error_fields=_fields(work.notes),
    )


async def _process_fhir_report(
    session: AsyncSession, row: InboundMessage, cutoff: float
) -> Outcome:
    """A FHIR DiagnosticReport from the RIS: one ultrasound exam (domain/ultrasound/service)."""
    found = await ultrasound.process_diagnostic_report(session, row.raw, row.message_id, cutoff)
    if isinstance(found, ultrasound.ReportProblem):
        return Outcome(
            status=InboundStatus.ERROR,
            error_code=found.code,
            error_detail=_clean(found.detail),
            error_fields=[
                {"field": found.path, "message": _clean(found.detail, 500), "code": found.code}
            ],
        )
    return Outcome(status=InboundStatus.PROCESSED, patient_id=found.patient_id)


def _apply(row: InboundMessage, outcome: Outcome, now: dt.datetime) -> None:
    row.status = outcome.status
    row.patient_id = outcome.patient_id
    row.error_code = outcome.error_code
    row.error_detail = outcome.error_detail
    row.error_fields = outcome.error_fields
    row.processed_at = now if outcome.status == InboundStatus.PROCESSED else None


def _receipt(row: InboundMessage, outcome: Outcome | None, *, duplicate: bool = False) -> Receipt:
    status = outcome.status if outcome is not None else row.status
    code = outcome.error_code if outcome is not None else row.error_code
    fields = outcome.error_fields if outcome is not None else row.error_fields
    detail = outcome.error_detail if outcome is not None else row.error_detail
    if status == InboundStatus.PROCESSED:
        if not duplicate:
            detail = "已处理"
        elif outcome is None:
            detail = "重复消息，已接收过，未重复保存"
        else:
            detail = "重复消息，未重复保存，已重新处理"
        notes = "；".join(f"{f['field']} {f['message']}" for f in fields[:3])
        detail += f"；提示：{notes}" if notes else ""
    elif code == INTERNAL_ERROR:
        detail = "已接收；处理时出现内部错误，已记录，信息科将重新处理"
    return Receipt(
        message_id=row.message_id,
        inbound_id=row.id,
        status=status,
        duplicate=duplicate,
        error_code=code,
        detail=mask_identifiers(detail) if detail else detail,
        # ACK texts end up in interface-engine logs: resident IDs are masked there.
        error_fields=tuple({**f, "message": mask_identifiers(str(f["message"]))} for f in fields),
    )


class InboundProcessor:
    """Stores and processes HL7 v2 messages received on one channel."""

    def __init__(
        self,
        db: Database,
        *,
        channel: str = CHANNEL_HL7,
        parameters: Parameters | None = None,
        store_timeout_s: float = STORE_TIMEOUT_S,
    ) -> None:
        self.db = db
        self.channel = channel
        self.parameters = parameters or Parameters(db)
        self.store_timeout_s = store_timeout_s

    async def receive(self, raw: bytes) -> Receipt:
        """Store the message (committed), then process it; a resend is not stored twice.

        Returns `stored=False` only when nothing was stored (the sender should resend).
        """
        message, decoded = hl7.parse_bytes(raw)
        header = hl7.read_header(message)
        message_id = _clean(header.control_id, 128).strip() or new_message_id()
        try:
            async with asyncio.timeout(self.store_timeout_s):
                row, duplicate = await self._store(raw, message_id, header, decoded.charset)
        except Exception as exc:
            log.warning(
                "inbound message not stored",
                extra={"message_id": message_id, "error": type(exc).__name__},
            )
            return Receipt.unavailable("数据库暂时不可用，消息未保存，请稍后重发", message_id)
        if duplicate:
            if row.raw != raw:
                log.warning(
                    "inbound message id reused with different content; the first one is kept",
                    extra={"message_id": message_id, "inbound_id": row.id},
                )
            if row.status == InboundStatus.PROCESSED:
                return _receipt(row, None, duplicate=True)
        # New, or sent again after an error: a fix (registration, dictionary) may apply now.
        outcome = await self.process(row.id)
        if outcome is None or not outcome.recorded:
            # Stored but not processed: a resend finds it RECEIVED and processes it then.
            return Receipt(
                retry_later=True,
                message_id=message_id,
                inbound_id=row.id,
                status=InboundStatus.RECEIVED,
                detail="消息已保存，但暂时无法处理，请稍后重发（重发不会重复保存）",
            )
        return _receipt(row, outcome, duplicate=duplicate)

    async def _store(
        self, raw: bytes, message_id: str, header: hl7.Header, charset: str
    ) -> tuple[InboundMessage, bool]:
        query = select(InboundMessage).where(
            InboundMessage.channel == self.channel, InboundMessage.message_id == message_id
        )
        try:
            async with self.db.transaction() as session:
                existing = await session.scalar(query)
                if existing is not None:
                    return existing, True
                row = InboundMessage(
                    channel=self.channel,
                    message_id=message_id,
                    message_type=_clean(header.message_type, 32) or None,
                    charset=charset,
                    raw=raw,
                    received_at=utcnow(),
                    status=InboundStatus.RECEIVED,
                    error_fields=[],
                    attempts=0,
                )
                session.add(row)
            return row, False
        except IntegrityError:
            # The same MSH-10 stored meanwhile by another connection.
            async with self.db.reader() as session:
                existing = await session.scalar(query)
            if existing is None:
                raise
            return existing, True

    async def process(
        self,
        inbound_id: int,
        *,
        dictionary: LabDictionary | None = None,
        actor: Actor | None = None,
    ) -> Outcome | None:
        """Process one stored message in its own transaction (attempts += 1).

        None when there is no such message. An unexpected failure is logged and recorded
        as ERROR/INTERNAL_ERROR; `recorded=False` when even that could not be written.
        """
        try:
            cutoff = await self.parameters.number(NT_CUTOFF_KEY, NT_CUTOFF_DEFAULT)
            async with self.db.transaction() as session:
                row = await session.get(InboundMessage, inbound_id, with_for_update=True)
                if row is None:
                    return None
                if row.channel == CHANNEL_FHIR_RIS:
                    outcome = await _process_fhir_report(session, row, cutoff)
                else:
                    lab_dictionary = dictionary or await LabDictionary.load(session)
                    outcome = await _process(session, row, lab_dictionary, cutoff)
                row.attempts += 1
                _apply(row, outcome, utcnow())
                if actor is not None:
                    record_change(
                        session,
                        actor,
                        "REPROCESS",
                        entity="inbound_message",
                        entity_id=row.id,
                        patient_ids=[outcome.patient_id] if outcome.patient_id else [],
                        detail={"status": outcome.status, "errorCode": outcome.error_code},
                    )
            return outcome
        except Exception:
            log.exception("inbound message processing failed", extra={"inbound_id": inbound_id})
            return await self._record_internal_error(inbound_id)

    async def _record_internal_error(self, inbound_id: int) -> Outcome:
        outcome = Outcome(
            status=InboundStatus.ERROR,
            error_code=INTERNAL_ERROR,
            error_detail="处理时出现内部错误（详情见服务日志）。请联系信息科，问题解决后重新处理此消息。",
        )
        try:
            async with self.db.transaction() as session:
                row = await session.get(InboundMessage, inbound_id, with_for_update=True)
                if row is None:
                    return outcome
                row.attempts += 1
                _apply(row, outcome, utcnow())
        except Exception:
            log.exception("inbound message error not recorded", extra={"inbound_id": inbound_id})
            return Outcome(status=InboundStatus.RECEIVED, recorded=False)
        return outcome


# --------------------------------------------------------------------------- reprocessing

REPROCESS_BATCH = 100


@dataclass(frozen=True)
class Reprocessed:
    id: int
    message_id: str
    status: str
    error_code: str | None
    error_detail: str | None


@dataclass(frozen=True)
class ReprocessSummary:
    messages: tuple[Reprocessed, ...]
    remaining: int  # matching messages left for another call (over the limit)

    @property
    def processed(self) -> int:
        return sum(1 for m in self.messages if m.status == InboundStatus.PROCESSED)

    @property
    def failed(self) -> int:
        return len(self.messages) - self.processed

    def describe(self) -> str:
        """The Chinese summary printed by `mhub reprocess`."""
        if not self.messages:
            return "没有需要重新处理的消息"
        lines = [
            f"重新处理 {len(self.messages)} 条消息：成功 {self.processed} 条，仍失败 {self.failed} 条"
        ]
        lines += [
            f"  #{m.id} {m.message_id}：{m.error_code}，{m.error_detail}"
            for m in self.messages
            if m.status != InboundStatus.PROCESSED
        ]
        if self.remaining:
            lines.append(f"还有 {self.remaining} 条符合条件的消息未处理，请再次运行")
        return "\n".join(lines)


def _selection(ids: Sequence[int] | None, status: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if ids is not None:
        conditions.append(InboundMessage.id.in_(list(ids)))
    if status is not None:
        conditions.append(InboundMessage.status == status)
    return conditions


async def reprocess(
    db: Database,
    *,
    ids: Sequence[int] | None = None,
    status: str | None = InboundStatus.ERROR,
    actor: Actor | None = None,
    limit: int | None = None,
    processor: InboundProcessor | None = None,
) -> ReprocessSummary:
    """Process stored messages again, oldest first, each in its own transaction.

    `ids` selects messages by database id; `status` (default ERROR) filters by status;
    `None` for both selects nothing. `limit` caps the number handled in this call.
    """
    if ids is None and status is None:
        return ReprocessSummary((), 0)
    processor = processor or InboundProcessor(db)
    conditions = _selection(ids, status)
    async with db.reader() as session:
        dictionary = await LabDictionary.load(session)
    done: list[Reprocessed] = []
    last_id = 0
    while limit is None or len(done) < limit:
        size = REPROCESS_BATCH if limit is None else min(REPROCESS_BATCH, limit - len(done))
        async with db.reader() as session:
            batch = (
                await session.execute(
                    select(InboundMessage.id, InboundMessage.message_id)
                    .where(*conditions, InboundMessage.id > last_id)
                    .order_by(InboundMessage.id)
                    .limit(size)
                )
            ).all()
        if not batch:
            break
        for inbound_id, message_id in batch:
            outcome = await processor.process(inbound_id, dictionary=dictionary, actor=actor)
            last_id = inbound_id
            if outcome is not None:
                done.append(
                    Reprocessed(
                        inbound_id,
                        message_id,
                        outcome.status,
                        outcome.error_code,
                        outcome.error_detail,
                    )
                )
    async with db.reader() as session:
        remaining = int(
            await session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(*conditions, InboundMessage.id > last_id)
            )
            or 0
        )
    return ReprocessSummary(tuple(done), remaining)


# --------------------------------------------------------------------------- listing


def _filters(status: str | None, channel: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(InboundMessage.status == status)
    if channel is not None:
        conditions.append(InboundMessage.channel == channel)
    return conditions


def inbound_query(status: str | None = None, channel: str | None = None) -> Select[InboundMessage]:
    """Inbound messages by status and channel (the caller orders and pages)."""
    return select(InboundMessage).where(*_filters(status, channel))


async def count_inbound(
    session: AsyncSession, status: str | None = None, channel: str | None = None
) -> int:
    query = select(func.count()).select_from(InboundMessage).where(*_filters(status, channel))
    return int(await session.scalar(query) or 0)


async def existing_ids(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    rows = await session.scalars(select(InboundMessage.id).where(InboundMessage.id.in_(list(ids))))
    return set(rows.all())
