"""Factor proposals: the system suggests a factor (purple after a positive HBsAg, HIV,
syphilis or HCV result); a doctor confirms it, which records the factor, or dismisses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.dictionary.models import DictionaryEntry
from domain.dictionary.service import RISK_FACTOR
from domain.errors import NotFound, ValidationFailed, fail
from domain.pregnancy.models import Pregnancy
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal
from domain.risk.service import DIAGNOSIS_MAX, FactorDiagnosis, add_risk_factor

PENDING = "PENDING"
CONFIRMED = "CONFIRMED"
DISMISSED = "DISMISSED"
_DECIDED = {CONFIRMED: "确认", DISMISSED: "驳回"}
DISMISS_REASON_MAX = 256


async def pending_for(
    session: AsyncSession, pregnancy_ids: Sequence[int]
) -> dict[int, list[tuple[RiskFactorProposal, str | None]]]:
    """pregnancy id → its pending proposals with the factor's dictionary name, oldest first."""
    rows = await session.execute(
        select(RiskFactorProposal, DictionaryEntry.name)
        .outerjoin(
            DictionaryEntry,
            (DictionaryEntry.kind == RISK_FACTOR)
            & (DictionaryEntry.code == RiskFactorProposal.code),
        )
        .where(
            RiskFactorProposal.pregnancy_id.in_(pregnancy_ids),
            RiskFactorProposal.status == PENDING,
        )
        .order_by(RiskFactorProposal.id)
    )
    found: dict[int, list[tuple[RiskFactorProposal, str | None]]] = {p: [] for p in pregnancy_ids}
    for proposal, name in rows:
        found[proposal.pregnancy_id].append((proposal, name))
    return found


def diagnosis_from(reason: str) -> str:
    """The finding in a proposal's reason: "乙肝表面抗原阳性（2024-03-01），建议…" → before "，建议"."""
    finding = reason.split("，建议", 1)[0].strip()
    return (finding or reason.strip())[:DIAGNOSIS_MAX]


async def _pending(db: Database, proposal_id: int) -> RiskFactorProposal:
    async with db.reader() as session:
        proposal = await session.get(RiskFactorProposal, proposal_id)
    if proposal is None:
        raise NotFound("id", "高危因素建议不存在")
    if proposal.status != PENDING:
        raise fail("id", f"该建议已被{_DECIDED.get(proposal.status, '处理')}", "ALREADY_DECIDED")
    return proposal


async def confirm_proposal(
    db: Database, actor: Actor, proposal_id: int
) -> tuple[RiskFactorProposal, RiskFactor]:
    """Record the proposed factor (diagnosis from the proposal's reason) and mark it confirmed.

    A factor already on the pregnancy (recorded by hand, or by a confirmation that was
    interrupted) satisfies the proposal: it is confirmed without a second factor.
    """
    proposal = await _pending(db, proposal_id)
    diagnosis = FactorDiagnosis(diagnosis_from(proposal.reason))
    try:
        factor = await add_risk_factor(db, actor, proposal.pregnancy_id, proposal.code, diagnosis)
    except ValidationFailed as exc:
        if [e.code for e in exc.errors] != ["DUPLICATE"]:
            raise
        async with db.reader() as session:
            existing = await session.scalar(
                select(RiskFactor).where(
                    RiskFactor.pregnancy_id == proposal.pregnancy_id,
                    RiskFactor.code == proposal.code,
                    RiskFactor.removed_at.is_(None),
                )
            )
        if existing is None:
            raise
        factor = existing
    async with db.transaction() as session:
        locked = await session.get(RiskFactorProposal, proposal_id, with_for_update=True)
        if locked is None:
            raise NotFound("id", "高危因素建议不存在")
        if locked.status == DISMISSED:
            raise fail("id", "该建议已被驳回", "ALREADY_DECIDED")
        if locked.status == PENDING:
            locked.status = CONFIRMED
            locked.decided_by = actor.username
            locked.decided_at = utcnow()
            pregnancy = await session.get(Pregnancy, locked.pregnancy_id)
            record_change(
                session,
                actor,
                "CONFIRM",
                entity="risk_factor_proposal",
                entity_id=locked.id,
                patient_ids=[pregnancy.patient_id] if pregnancy else [],
                detail={"code": locked.code, "riskFactorId": factor.id},
            )
    return locked, factor


async def dismiss_proposal(
    db: Database, actor: Actor, proposal_id: int, reason: str | None
) -> RiskFactorProposal:
    """Dismiss a pending proposal; the reason is kept in the audit record of the decision."""
    problem = check.text(
        "reason", reason, label="驳回原因", max_len=DISMISS_REASON_MAX, required=True
    )
    if problem:
        raise ValidationFailed([problem])
    async with db.transaction() as session:
        proposal = await session.get(RiskFactorProposal, proposal_id, with_for_update=True)
        if proposal is None:
            raise NotFound("id", "高危因素建议不存在")
        if proposal.status != PENDING:
            raise fail(
                "id", f"该建议已被{_DECIDED.get(proposal.status, '处理')}", "ALREADY_DECIDED"
            )
        proposal.status = DISMISSED
        proposal.decided_by = actor.username
        proposal.decided_at = utcnow()
        pregnancy = await session.get(Pregnancy, proposal.pregnancy_id)
        record_change(
            session,
            actor,
            "DISMISS",
            entity="risk_factor_proposal",
            entity_id=proposal.id,
            patient_ids=[pregnancy.patient_id] if pregnancy else [],
            detail={"code": proposal.code, "reason": str(reason).strip()},
        )
    return proposal
