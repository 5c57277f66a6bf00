"""Data corrections (数据纠错, 1.18): one person asks, another approves, the change is made.

A request names a record, a field, the new value and why; it keeps the value the field
had when it was asked for. Approval — by a user with the approver role who did not ask —
applies the change through the domain's own service in the same transaction that marks
the request approved, keeping the values before and after; the push outbox is refreshed
by that service, so the platform receives the corrected record. When the field no longer
holds the value the request saw, approval fails and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor, Permission
from domain.correction import rules, targets
from domain.correction.models import CorrectionRequest, CorrectionStatus
from domain.correction.unit import JoinedTransaction
from domain.database import Database, utcnow
from domain.errors import FieldError, NotFound, ValidationFailed, fail
from domain.patient.rules import mask_phone

STALE_MESSAGE = "值已被修改，请重新提交更正申请"
_ENTITY = "correction_request"


@dataclass(frozen=True)
class CorrectionInput:
    target_type: str
    target_id: int
    field: str
    new_value: str
    reason: str


class _Rehearsed(Exception):
    """Ends a rehearsal transaction (always rolled back) once the change went through."""


def _refer(errors: list[FieldError], field: str) -> list[FieldError]:
    """The domain's objections, pointed at the input the caller can fix."""
    return [FieldError(field, e.message, e.code) for e in errors]


def _check_input(
    data: CorrectionInput,
) -> tuple[rules.CorrectableField, rules.Value, str]:
    errors: list[FieldError] = []
    found = rules.find(data.target_type, data.field)
    problem = check.text(
        "reason", data.reason, label="更正原因", max_len=rules.REASON_MAX, required=True
    )
    if problem:
        errors.append(problem)
    if isinstance(found, FieldError):
        raise ValidationFailed([found, *errors])
    value = rules.parse(found, data.new_value)
    if isinstance(value, FieldError):
        raise ValidationFailed([value, *errors])
    if errors:
        raise ValidationFailed(errors)
    return found, value, data.reason.strip()


def _not_found(target_type: str) -> NotFound:
    return NotFound("targetId", f"要更正的{rules.TARGET_LABELS[target_type]}不存在或已删除")


async def request_correction(
    db: Database, actor: Actor, data: CorrectionInput, *, today: dt.date | None = None
) -> CorrectionRequest:
    """Record a correction request after checking that the change would be accepted now.

    The change is rehearsed through the domain's rules in a transaction that is rolled
    back, so a request that could never be approved is refused at once.
    """
    field, value, reason = _check_input(data)
    try:
        async with db.transaction() as session:
            located = await targets.locate(session, data.target_type, data.target_id)
            if located is None:
                raise _not_found(data.target_type)
            if targets.current(located, field) == rules.render(value):
                raise fail("newValue", f"新值与{field.label}的当前值相同，无需更正", "NO_CHANGE")
            try:
                joined = JoinedTransaction(db, session)
                await targets.apply(
                    joined, session, actor, located, field, value, reason, today=today
                )
            except ValidationFailed as exc:
                raise ValidationFailed(_refer(exc.errors, "newValue")) from exc
            raise _Rehearsed
    except _Rehearsed:
        pass
    async with db.transaction() as session:
        located = await targets.locate(session, data.target_type, data.target_id)
        if located is None:
            raise _not_found(data.target_type)
        pending = await session.scalar(
            select(CorrectionRequest.id).where(
                CorrectionRequest.target_type == data.target_type,
                CorrectionRequest.target_id == data.target_id,
                CorrectionRequest.field == field.field,
                CorrectionRequest.status == CorrectionStatus.PENDING,
            )
        )
        if pending is not None:
            raise fail(
                "field",
                f"该记录的{field.label}已有待审核的更正申请（#{pending}），请等待审核结果",
                "PENDING_EXISTS",
            )
        request = CorrectionRequest(
            target_type=data.target_type,
            target_id=data.target_id,
            field=field.field,
            target_label=located.label,
            patient_id=located.patient_id,
            pregnancy_id=located.pregnancy_id,
            old_value=targets.current(located, field),
            new_value=rules.render(value),
            reason=reason,
            status=CorrectionStatus.PENDING,
            requested_by=actor.username,
            requested_by_id=actor.user_id,
            requested_at=utcnow(),
        )
        session.add(request)
        await session.flush()
        record_change(
            session,
            actor,
            "REQUEST_CORRECTION",
            entity=_ENTITY,
            entity_id=request.id,
            patient_ids=[located.patient_id],
            detail={
                "target": f"{data.target_type}:{data.target_id}",
                "field": field.field,
                "oldValue": _for_audit(request, request.old_value),
                "newValue": _for_audit(request, request.new_value),
            },
        )
    return request


def _for_audit(request: CorrectionRequest, value: str | None) -> str | None:
    """Values as the audit log keeps them: phone numbers masked like everywhere else."""
    if value is not None and request.target_type == rules.PATIENT and request.field == "phone":
        return mask_phone(value)
    return value


def _own(request: CorrectionRequest, actor: Actor) -> bool:
    if request.requested_by_id is not None and actor.user_id is not None:
        return request.requested_by_id == actor.user_id
    return request.requested_by == actor.username


def _check_decider(actor: Actor, request: CorrectionRequest | None, verb: str) -> CorrectionRequest:
    if not actor.can(Permission.APPROVE_CORRECTIONS):
        raise fail("correctionId", f"没有{verb}更正申请的权限（需要审核人角色）", "FORBIDDEN")
    if request is None:
        raise NotFound("correctionId", "更正申请不存在")
    if request.status != CorrectionStatus.PENDING:
        done = "批准" if request.status == CorrectionStatus.APPROVED else "驳回"
        raise fail("correctionId", f"该更正申请已被 {request.decided_by} {done}", "ALREADY_DECIDED")
    if _own(request, actor):
        raise fail(
            "correctionId", f"不能{verb}自己提交的更正申请，请由其他审核人处理", "OWN_REQUEST"
        )
    return request


async def approve_correction(
    db: Database, actor: Actor, correction_id: int, *, today: dt.date | None = None
) -> CorrectionRequest:
    """Apply the requested change and mark the request approved, in one transaction."""
    async with db.transaction() as session:
        request = _check_decider(
            actor,
            await session.get(CorrectionRequest, correction_id, with_for_update=True),
            "审核",
        )
        field = rules.BY_TARGET[request.target_type][request.field]
        located = await targets.locate(session, request.target_type, request.target_id)
        if located is None:
            raise fail(
                "correctionId",
                f"要更正的{rules.TARGET_LABELS[request.target_type]}已不存在，请驳回该申请",
                "TARGET_GONE",
            )
        before = targets.current(located, field)
        if before != request.old_value:
            shown = before if before is not None else "（空）"
            raise fail(
                "correctionId",
                f"{STALE_MESSAGE}（申请时为「{request.old_value or '（空）'}」，现在为「{shown}」）",
                "STALE",
            )
        value = rules.parse(field, request.new_value or "")
        if isinstance(value, FieldError):
            raise ValidationFailed(_refer([value], "correctionId"))
        try:
            await targets.apply(
                JoinedTransaction(db, session),
                session,
                actor,
                located,
                field,
                value,
                f"更正申请 #{request.id}：{request.reason}",
                today=today,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(_refer(exc.errors, "correctionId")) from exc
        after = targets.current(located, field)
        request.status = CorrectionStatus.APPROVED
        request.decided_by = actor.username
        request.decided_at = utcnow()
        request.applied_before = before
        request.applied_after = after
        record_change(
            session,
            actor,
            "APPROVE_CORRECTION",
            entity=_ENTITY,
            entity_id=request.id,
            patient_ids=[request.patient_id],
            detail={
                "target": f"{request.target_type}:{request.target_id}",
                "field": request.field,
                "before": _for_audit(request, before),
                "after": _for_audit(request, after),
                "requestedBy": request.requested_by,
            },
        )
    return request


async def reject_correction(
    db: Database, actor: Actor, correction_id: int, reason: str
) -> CorrectionRequest:
    """Refuse a request; the reason is kept with it. Nothing else changes."""
    problem = check.text(
        "reason", reason, label="驳回原因", max_len=rules.REASON_MAX, required=True
    )
    if problem:
        raise ValidationFailed([problem])
    async with db.transaction() as session:
        request = _check_decider(
            actor,
            await session.get(CorrectionRequest, correction_id, with_for_update=True),
            "审核",
        )
        request.status = CorrectionStatus.REJECTED
        request.decided_by = actor.username
        request.decided_at = utcnow()
        request.decision_reason = reason.strip()
        record_change(
            session,
            actor,
            "REJECT_CORRECTION",
            entity=_ENTITY,
            entity_id=request.id,
            patient_ids=[request.patient_id],
            detail={"reason": reason.strip(), "requestedBy": request.requested_by},
        )
    return request
