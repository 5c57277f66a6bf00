"""The transactional outbox: a change writes the record's next version in its own transaction.

Every service that changes what a 桂妇儿 record would say (a visit, its remarks, a
factor, a lab value, an NT, the booking) calls `refresh_pregnancy` inside its
transaction. The pregnancy's records are rebuilt from the database, compared with what
the outbox holds, and each changed one gets its next version — or, when the current
version has not been handed to the platform yet, its content replaced (coalescing
rapid edits). The contract's rules run on the result (pre-flight), so the doctor who
saved sees the platform's objections at once. Delivery starts after the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import utcnow
from domain.parameter.models import Parameter
from domain.pregnancy.models import Pregnancy
from domain.push import content, mapping
from domain.push.models import PushRecord, PushStatus
from integrations.guifuer import contract
from integrations.guifuer.port import RecordType

PUSH_SIGNAL = "push"
DEFAULT_COALESCE_S = 2.0
RECORD_LABELS = {
    RecordType.MATERNAL_REGISTRATION.value: "孕产妇建档",
    RecordType.PRENATAL_VISIT.value: "产前检查",
    RecordType.HIGH_RISK_ASSESSMENT.value: "高危评估",
    RecordType.INFECTIOUS_SCREENING.value: "传染病检测",
    RecordType.ULTRASOUND_NT.value: "NT 检查",
}
# Which canonical field a platform error path points at, in the words a doctor uses.
FIELD_LABELS = {
    "diagnosis": "诊断（高危因素的诊断）",
    "treatment": "处理（产检备注）",
    "ntMm": "NT 值",
    "items": "传染病检测项目",
    "phone": "联系电话",
    "gestationalAge": "孕周",
    "idCardNo": "身份证号",
}


@dataclass(frozen=True)
class Problem:
    """A pre-flight finding: the platform would refuse this record as it stands."""

    record_type: str
    record_id: str
    field: str
    reason: str

    @property
    def message(self) -> str:
        name = self.field.rsplit(".", 1)[-1].split("[", 1)[0]
        label = FIELD_LABELS.get(name, self.field)
        return f"桂妇儿推送前检查（{RECORD_LABELS.get(self.record_type, self.record_type)}）：{label} {self.reason}"


def mark_changed(session: AsyncSession) -> None:
    """Ask for delivery once this session's transaction has committed."""
    session.info.setdefault("signals", set()).add(PUSH_SIGNAL)


def content_hash(body: dict[str, Any]) -> str:
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


async def _parameters(session: AsyncSession) -> tuple[float, bool]:
    rows = dict(
        (
            await session.execute(
                select(Parameter.key, Parameter.value).where(
                    Parameter.key.in_(("push_coalesce_s", "push_requires_review"))
                )
            )
        ).all()
    )
    coalesce = rows.get("push_coalesce_s", DEFAULT_COALESCE_S)
    review = rows.get("push_requires_review", False)
    return (
        float(coalesce) if isinstance(coalesce, int | float) else DEFAULT_COALESCE_S,
        review is True,
    )


async def refresh_pregnancy(
    session: AsyncSession,
    pregnancy_id: int,
    *,
    changed_by: str | None,
    now: dt.datetime | None = None,
    force_new_version: bool = False,
) -> list[Problem]:
    """Bring the pregnancy's outbox rows up to date with the database (same transaction).

    Returns the pre-flight problems of the records this change touched.
    """
    now = now or utcnow()
    facts = await content.load_facts(session, pregnancy_id)
    if facts is None:
        return []
    active = await mapping.current_mapping(session)
    coalesce_s, requires_review = await _parameters(session)
    existing = {
        row.record_id: row
        for row in await session.scalars(
            select(PushRecord).where(PushRecord.pregnancy_id == pregnancy_id)
        )
    }
    built = content.build_all(facts)
    registration_data: dict[str, Any] | None = None
    problems: list[Problem] = []
    changed = False
    for record in built:
        data, mapping_problems = mapping.apply(record, active)
        body: dict[str, object] = {"patient": record.patient, "data": data}
        if record.record_type is RecordType.MATERNAL_REGISTRATION:
            registration_data = data
        digest = content_hash(body)
        row = existing.get(record.record_id)
        if (
            row is not None
            and row.content_hash == digest
            and row.mapping_version == active.version
            and not force_new_version
        ):
            continue
        found = preflight(record.record_type, body, registration_data, now) + mapping_problems
        problems += [
            Problem(record.record_type.value, record.record_id, p["field"], p["reason"])
            for p in found
        ]
        status = (
            PushStatus.REJECTED
            if found
            else PushStatus.HELD
            if requires_review
            else PushStatus.PENDING
        )
        due = now + dt.timedelta(seconds=coalesce_s) if status is PushStatus.PENDING else None
        if row is None:
            row = PushRecord(
                record_type=record.record_type.value,
                record_id=record.record_id,
                patient_id=facts.patient.id,
                pregnancy_id=pregnancy_id,
                version=1,
                attempts=0,
            )
            session.add(row)
        elif row.sent_version is not None and row.sent_version >= row.version:
            row.version += 1
            row.attempts = 0
        elif row.status == PushStatus.PENDING and row.next_attempt_at is not None and due:
            due = min(due, max(row.next_attempt_at, now))  # coalesced: keep its place
        row.body = body
        row.content_hash = digest
        row.mapping_version = active.version
        row.problems = found
        row.changed_by = changed_by
        row.status = status
        row.next_attempt_at = due
        row.reviewed_by = None
        row.discarded_by = row.discarded_at = row.discard_reason = None
        row.last_error = (
            {"outcome": "PREFLIGHT", "message": "推送前检查未通过", "fieldErrors": found}
            if found
            else None
        )
        changed = True
    if changed:
        mark_changed(session)
    return problems


def preflight(
    record_type: RecordType,
    body: dict[str, Any],
    registration: dict[str, Any] | None,
    now: dt.datetime,
) -> list[dict[str, str]]:
    """The platform's own rules (`integrations.guifuer.contract`) on a record about to be sent."""
    envelope = {
        "recordType": record_type.value,
        "orgCode": "preflight",
        "recordId": "preflight",
        "version": 1,
        **body,
    }
    _, found = contract.check_body(envelope, now.astimezone(content.HOSPITAL_TZ))
    if (
        not found
        and registration is not None
        and record_type is not RecordType.MATERNAL_REGISTRATION
    ):
        found = contract.check_against_registration(record_type, body["data"], registration)
    return found


async def refresh_patient(
    session: AsyncSession, patient_id: int, *, changed_by: str | None
) -> list[Problem]:
    """A change to the woman herself (name, phone…) touches every pregnancy's records."""
    problems: list[Problem] = []
    for pregnancy_id in await session.scalars(
        select(Pregnancy.id).where(Pregnancy.patient_id == patient_id)
    ):
        problems += await refresh_pregnancy(session, pregnancy_id, changed_by=changed_by)
    return problems
