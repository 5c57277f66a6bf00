"""Storing lab results from any channel (HL7 v2, FHIR, legacy): mapped, normalised, idempotent.

A result is identified by (source, source_id). The same result received again is a
duplicate and changes nothing; a corrected value from the source updates the row and
keeps the old values as an amendment. A positive result of an item that proposes a
factor (HBsAg, HIV, syphilis, HCV) creates a proposal for the doctor to confirm.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import utcnow
from domain.errors import FieldError
from domain.lab.mapping import LabDictionary, StandardItem
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.normalise import POSITIVE, normalise
from domain.lab.screening import SCREENING_CODES
from domain.pregnancy.models import Pregnancy
from domain.push.outbox import refresh_pregnancy
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal

# A pregnancy's results are those taken from the LMP to six weeks after delivery (产后42天).
POSTPARTUM_DAYS = 42
# Specimen dates are calendar days in the hospital's time zone (Beijing time), not UTC days.
HOSPITAL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")
_VALUE_FIELDS = ("value_numeric", "comparator", "value_qualitative", "value_text", "unit",
                 "reference_range", "abnormal_flag")  # fmt: skip


@dataclass(frozen=True)
class IncomingResult:
    patient_id: int
    source: str
    source_id: str
    raw_value: str
    reported_at: dt.datetime
    local_code: str | None = None
    loinc: str | None = None
    local_name: str | None = None
    interpretation: str | None = None
    unit: str | None = None
    reference_range: str | None = None
    abnormal_flag: str | None = None
    specimen_at: dt.datetime | None = None


@dataclass
class StoreOutcome:
    stored: list[LabResult] = field(default_factory=list)
    corrected: list[LabResult] = field(default_factory=list)
    duplicates: int = 0
    errors: list[FieldError] = field(default_factory=list)
    proposals: list[RiskFactorProposal] = field(default_factory=list)


def _values(incoming: IncomingResult) -> dict[str, object]:
    value = normalise(incoming.raw_value, interpretation=incoming.interpretation)
    return {
        "value_numeric": value.numeric,
        "comparator": value.comparator,
        "value_qualitative": value.qualitative,
        "value_text": value.text[:256],
        "unit": (incoming.unit or None) and incoming.unit[:32],
        "reference_range": (incoming.reference_range or None) and incoming.reference_range[:64],
        "abnormal_flag": (incoming.abnormal_flag or None) and incoming.abnormal_flag[:8],
    }


async def pregnancy_for(session: AsyncSession, patient_id: int, taken: dt.date) -> int | None:
    """The pregnancy during which a specimen was taken, if any."""
    rows = (
        await session.scalars(
            select(Pregnancy).where(Pregnancy.patient_id == patient_id, Pregnancy.lmp <= taken)
        )
    ).all()
    for pregnancy in sorted(rows, key=lambda p: p.lmp, reverse=True):
        end = (pregnancy.delivered_on or pregnancy.edd) + dt.timedelta(days=POSTPARTUM_DAYS)
        if taken <= end:
            return pregnancy.id
    return None


async def store_results(
    session: AsyncSession, dictionary: LabDictionary, results: list[IncomingResult]
) -> StoreOutcome:
    """Store results in the caller's transaction. Unmapped items are reported, not stored."""
    outcome = StoreOutcome()
    for index, incoming in enumerate(results):
        item = dictionary.resolve(incoming.local_code, incoming.loinc)
        if item is None:
            outcome.errors.append(
                FieldError(
                    f"results[{index}].code",
                    f"检验项目 {incoming.local_code or incoming.loinc or '（空）'}"
                    f"{'（' + incoming.local_name + '）' if incoming.local_name else ''} 未在数据字典中映射",
                    "UNMAPPED_ITEM",
                )
            )
            continue
        values = _values(incoming)
        existing = await session.scalar(
            select(LabResult).where(
                LabResult.source == incoming.source, LabResult.source_id == incoming.source_id
            )
        )
        if existing is not None:
            # Compared with what the source sent last, so that receiving the same result
            # again does not undo a doctor's amendment.
            if await _source_values(session, existing) == values:
                outcome.duplicates += 1
                continue
            before = {k: getattr(existing, k) for k in _VALUE_FIELDS}
            for key, value in values.items():
                setattr(existing, key, value)
            existing.amendment_count += 1
            session.add(
                LabResultAmendment(
                    lab_result_id=existing.id,
                    before=before,
                    after=values,
                    reason="检验系统更正结果",
                    amended_by=incoming.source,
                    amended_at=utcnow(),
                )
            )
            outcome.corrected.append(existing)
            await _maybe_propose(session, outcome, item, existing)
            continue
        taken = (incoming.specimen_at or incoming.reported_at).astimezone(HOSPITAL_TZ).date()
        row = LabResult(
            patient_id=incoming.patient_id,
            pregnancy_id=await pregnancy_for(session, incoming.patient_id, taken),
            item_code=item.code,
            item_name=item.name,
            loinc=(incoming.loinc or (item.loinc[0] if item.loinc else None) or "")[:16] or None,
            local_code=incoming.local_code[:64] if incoming.local_code else None,
            specimen_at=incoming.specimen_at,
            reported_at=incoming.reported_at,
            source=incoming.source,
            source_id=incoming.source_id,
            received_at=utcnow(),
            amendment_count=0,
            **values,
        )
        session.add(row)
        await session.flush()
        outcome.stored.append(row)
        await _maybe_propose(session, outcome, item, row)
    touched = {
        row.pregnancy_id
        for row in (*outcome.stored, *outcome.corrected)
        if row.pregnancy_id is not None and row.item_code in SCREENING_CODES
    }
    for pregnancy_id in sorted(touched):
        await refresh_pregnancy(session, pregnancy_id, changed_by=None)
    return outcome


async def _source_values(session: AsyncSession, row: LabResult) -> dict[str, object]:
    """The values the source last sent for a row: its latest correction, else the original."""
    current = {k: getattr(row, k) for k in _VALUE_FIELDS}
    if row.amendment_count == 0:
        return current
    amendments = (
        await session.scalars(
            select(LabResultAmendment)
            .where(LabResultAmendment.lab_result_id == row.id)
            .order_by(LabResultAmendment.id)
        )
    ).all()
    for amendment in reversed(amendments):
        if amendment.amended_by == row.source:
            return dict(amendment.after)
    return dict(amendments[0].before) if amendments else current


async def _maybe_propose(
    session: AsyncSession, outcome: StoreOutcome, item: StandardItem, row: LabResult
) -> None:
    if item.proposes_factor and row.value_qualitative == POSITIVE and row.pregnancy_id:
        proposal = await _propose(session, row, row.pregnancy_id, item.proposes_factor)
        if proposal is not None:
            outcome.proposals.append(proposal)


async def _propose(
    session: AsyncSession, row: LabResult, pregnancy_id: int, code: str
) -> RiskFactorProposal | None:
    already = await session.scalar(
        select(RiskFactor.id)
        .where(RiskFactor.pregnancy_id == pregnancy_id, RiskFactor.code == code)
        .where(RiskFactor.removed_at.is_(None))
        .union_all(
            select(RiskFactorProposal.id).where(
                RiskFactorProposal.pregnancy_id == pregnancy_id,
                RiskFactorProposal.code == code,
                or_(
                    RiskFactorProposal.status == "PENDING", RiskFactorProposal.status == "CONFIRMED"
                ),
            )
        )
        .limit(1)
    )
    if already is not None:
        return None
    tested = (row.specimen_at or row.reported_at).astimezone(HOSPITAL_TZ)
    proposal = RiskFactorProposal(
        pregnancy_id=pregnancy_id,
        code=code,
        reason=f"{row.item_name}阳性（{tested:%Y-%m-%d}），建议确认传染病（紫色）高危因素",
        lab_result_id=row.id,
        status="PENDING",
        proposed_at=utcnow(),
    )
    session.add(proposal)
    return proposal
