"""Adding, editing and removing high-risk factors; the pregnancy's grading follows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.dictionary.service import RISK_FACTOR, active_entry, color_of
from domain.errors import FieldError, NotFound, ValidationFailed, fail
from domain.history.service import record_revision, snapshot
from domain.pregnancy.service import load_for_update, regrade, require_active
from domain.push.outbox import refresh_pregnancy
from domain.risk.emr_diagnosis import EmrFinding, fill_from_emr
from domain.risk.models import RiskFactor
from domain.risk.rules import FACTOR_COLORS
from integrations.emr.port import EmrClient

DIAGNOSIS_MAX = 1000
_ICD10 = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")
_TRACKED = ("diagnosis", "diagnosis_source", "icd10_code")


@dataclass(frozen=True)
class FactorDiagnosis:
    diagnosis: str | None
    icd10_code: str | None = None


def _validate(d: FactorDiagnosis) -> list[FieldError]:
    errors = check.collect(
        check.text("diagnosis", d.diagnosis, label="诊断", max_len=DIAGNOSIS_MAX)
    )
    if d.icd10_code and not _ICD10.match(d.icd10_code.strip().upper()):
        errors.append(
            FieldError(
                "icd10Code", f"ICD-10 编码 {d.icd10_code} 格式不正确（如 O24.4）", "INVALID_FORMAT"
            )
        )
    return errors


@dataclass(frozen=True)
class RecordedFactor:
    factor: RiskFactor
    warnings: tuple[FieldError, ...] = ()


async def record_risk_factor(
    db: Database,
    actor: Actor,
    pregnancy_id: int,
    code: str,
    diagnosis: FactorDiagnosis,
    emr: EmrClient,
) -> RecordedFactor:
    """Record a factor; without a typed diagnosis it takes the EMR's (1.28.1, source EMR).

    The EMR is asked before the transaction, so no row is locked while it answers. When
    it cannot answer, the factor is still recorded (MANUAL, no diagnosis) with an
    EMR_UNAVAILABLE warning for the doctor.
    """
    errors = _validate(diagnosis)
    if errors:
        raise ValidationFailed(errors)
    filled = await fill_from_emr(
        db,
        emr,
        pregnancy_id,
        code,
        typed_diagnosis=diagnosis.diagnosis,
        typed_icd10=diagnosis.icd10_code,
    )
    factor = await add_risk_factor(
        db, actor, pregnancy_id, code, diagnosis, from_emr=filled.finding
    )
    return RecordedFactor(factor, filled.warnings)


async def add_risk_factor(
    db: Database,
    actor: Actor,
    pregnancy_id: int,
    code: str,
    diagnosis: FactorDiagnosis,
    *,
    from_emr: EmrFinding | None = None,
) -> RiskFactor:
    """Record a factor from the dictionary; a doctor-typed diagnosis has source MANUAL.

    `from_emr` is the EMR's diagnosis for it, used only when the doctor typed neither a
    diagnosis nor a code.
    """
    errors = _validate(diagnosis)
    if errors:
        raise ValidationFailed(errors)
    async with db.transaction() as session:
        pregnancy = await load_for_update(session, pregnancy_id, field="pregnancyId")
        require_active(pregnancy, "pregnancyId")
        entry = await active_entry(session, RISK_FACTOR, code)
        if entry is None:
            raise fail("code", f"高危因素编码 {code} 不在数据字典中或已停用", "UNKNOWN_CODE")
        color = color_of(entry)
        if color not in FACTOR_COLORS:
            raise fail("code", f"数据字典中 {code} 的颜色 {color} 无效", "INVALID_DICTIONARY_ENTRY")
        duplicate = await session.scalar(
            select(RiskFactor.id).where(
                RiskFactor.pregnancy_id == pregnancy.id,
                RiskFactor.code == code,
                RiskFactor.removed_at.is_(None),
            )
        )
        if duplicate is not None:
            raise fail("code", f"该孕产档案已有高危因素「{entry.name}」", "DUPLICATE")
        typed = (diagnosis.diagnosis or "").strip() or None
        typed_icd10 = (diagnosis.icd10_code or "").strip().upper() or None
        emr = from_emr if typed is None and typed_icd10 is None else None
        factor = RiskFactor(
            pregnancy_id=pregnancy.id,
            code=code,
            name=entry.name,
            color=color,
            diagnosis=emr.diagnosis if emr else typed,
            diagnosis_source="EMR" if emr else "MANUAL",
            icd10_code=emr.icd10_code if emr else typed_icd10,
            emr_condition_id=emr.condition_id if emr else None,
            recorded_by=actor.username,
            recorded_at=utcnow(),
            version=1,
        )
        session.add(factor)
        await session.flush()
        await regrade(session, pregnancy)
        record_change(
            session,
            actor,
            "CREATE",
            entity="risk_factor",
            entity_id=factor.id,
            patient_ids=[pregnancy.patient_id],
            detail={"code": code, "color": color},
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return factor


async def edit_risk_factor(
    db: Database,
    actor: Actor,
    factor_id: int,
    changes: dict[str, str | None],
    *,
    allow_closed: bool = False,
) -> RiskFactor:
    """A doctor's edit of the diagnosis and/or ICD-10 code (only the keys given change);
    the source becomes MANUAL and history is kept. `allow_closed`: an approved correction
    request (domain/correction) may change a factor of a delivered or archived pregnancy."""
    unknown = set(changes) - {"diagnosis", "icd10_code"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    async with db.transaction() as session:
        factor = await session.get(RiskFactor, factor_id, with_for_update=True)
        if factor is None or factor.removed_at is not None:
            raise NotFound("riskFactorId", "高危因素不存在或已删除")
        merged = FactorDiagnosis(
            changes.get("diagnosis", factor.diagnosis), changes.get("icd10_code", factor.icd10_code)
        )
        errors = _validate(merged)
        if errors:
            raise ValidationFailed(errors)
        pregnancy = await load_for_update(session, factor.pregnancy_id, field="riskFactorId")
        if not allow_closed:
            require_active(pregnancy, "riskFactorId")
        before = snapshot(factor, _TRACKED)
        factor.diagnosis = (merged.diagnosis or "").strip() or None
        factor.icd10_code = merged.icd10_code.strip().upper() if merged.icd10_code else None
        factor.diagnosis_source = "MANUAL"
        factor.updated_by = actor.username
        after = snapshot(factor, _TRACKED)
        if after == before:
            return factor
        factor.version += 1
        record_revision(
            session,
            actor,
            entity="risk_factor",
            entity_id=factor.id,
            version=factor.version,
            before=before,
            after=after,
        )
        record_change(
            session,
            actor,
            "UPDATE",
            entity="risk_factor",
            entity_id=factor.id,
            patient_ids=[pregnancy.patient_id],
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return factor


async def remove_risk_factor(
    db: Database, actor: Actor, factor_id: int, reason: str | None
) -> RiskFactor:
    """Take a factor off the current list (kept for history) and re-grade the pregnancy."""
    problem = check.text("reason", reason, label="删除原因", max_len=256)
    if problem:
        raise ValidationFailed([problem])
    async with db.transaction() as session:
        factor = await session.get(RiskFactor, factor_id, with_for_update=True)
        if factor is None or factor.removed_at is not None:
            raise NotFound("riskFactorId", "高危因素不存在或已删除")
        pregnancy = await load_for_update(session, factor.pregnancy_id, field="riskFactorId")
        require_active(pregnancy, "riskFactorId")
        factor.removed_at = utcnow()
        factor.removed_by = actor.username
        factor.removal_reason = reason
        factor.version += 1
        await session.flush()
        await regrade(session, pregnancy)
        record_change(
            session,
            actor,
            "DELETE",
            entity="risk_factor",
            entity_id=factor.id,
            patient_ids=[pregnancy.patient_id],
            detail={"reason": reason},
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return factor
