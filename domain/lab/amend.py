"""A doctor's amendment of a lab result (e.g. a screening item read wrongly).

The row takes the doctor's value; the values before and after, who and why are kept as
a `LabResultAmendment`, so the LIS original is never lost. The amended value is the
item's result until a result with a later test date arrives for the same item.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.errors import FieldError, NotFound, ValidationFailed, fail
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.normalise import NEGATIVE, POSITIVE, WEAK_POSITIVE, normalise
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.push.outbox import refresh_pregnancy

REASON_MAX = 500
VALUE_MAX = 256
WORDS = {POSITIVE: "阳性", NEGATIVE: "阴性", WEAK_POSITIVE: "弱阳性"}
VALUE_FIELDS = ("value_numeric", "comparator", "value_qualitative", "value_text", "unit",
                "reference_range", "abnormal_flag")  # fmt: skip


@dataclass(frozen=True)
class Amendment:
    """The doctor's value (text, a qualitative result, or both) and the reason."""

    value_text: str | None = None
    qualitative: str | None = None
    reason: str | None = None


def _validate(amendment: Amendment) -> list[FieldError]:
    errors = check.collect(
        check.text("reason", amendment.reason, label="修改原因", max_len=REASON_MAX, required=True),
        check.text("valueText", amendment.value_text, label="结果", max_len=VALUE_MAX),
    )
    text = (amendment.value_text or "").strip()
    if not text and amendment.qualitative is None:
        errors.append(FieldError("valueText", "请填写结果文字或选择定性结果", "REQUIRED"))
    if amendment.qualitative is not None and amendment.qualitative not in WORDS:
        errors.append(FieldError("result", f"定性结果 {amendment.qualitative} 无效", "INVALID"))
    elif text and amendment.qualitative is not None:
        reading = normalise(text).qualitative
        if reading is not None and reading != amendment.qualitative:
            errors.append(
                FieldError(
                    "result",
                    f"结果文字「{text}」与所选定性结果{WORDS[amendment.qualitative]}不一致",
                    "CONFLICTING_VALUE",
                )
            )
    return errors


def _values_after(row: LabResult, amendment: Amendment) -> dict[str, object]:
    text = (amendment.value_text or "").strip() or WORDS[str(amendment.qualitative)]
    value = normalise(text)
    qualitative = amendment.qualitative or value.qualitative
    return {
        "value_numeric": value.numeric,
        "comparator": value.comparator,
        "value_qualitative": qualitative,
        "value_text": value.text,
        "unit": row.unit,
        "reference_range": row.reference_range,
        # The LIS's abnormal flag described its own reading; it does not carry over.
        "abnormal_flag": row.abnormal_flag if qualitative == row.value_qualitative else None,
    }


async def amend_lab_result(
    db: Database,
    actor: Actor,
    lab_result_id: int,
    amendment: Amendment,
    *,
    allow_closed: bool = False,
) -> LabResult:
    """Replace a result's value with the doctor's, keeping the previous one.

    `allow_closed` lets an approved correction request (domain/correction) amend a result
    of an archived pregnancy.
    """
    errors = _validate(amendment)
    if errors:
        raise ValidationFailed(errors)
    async with db.transaction() as session:
        row = await session.get(LabResult, lab_result_id, with_for_update=True)
        if row is None:
            raise NotFound("labResultId", "检验结果不存在")
        if row.pregnancy_id is not None and not allow_closed:
            pregnancy = await session.get(Pregnancy, row.pregnancy_id)
            if pregnancy is not None and pregnancy.status == PregnancyStatus.ARCHIVED:
                raise fail(
                    "labResultId", "该检验结果所属孕产档案已归档，只能查看", "PREGNANCY_CLOSED"
                )
        before = {k: getattr(row, k) for k in VALUE_FIELDS}
        after = _values_after(row, amendment)
        if after == before:
            return row
        for key, value in after.items():
            setattr(row, key, value)
        row.amendment_count += 1
        reason = str(amendment.reason).strip()
        session.add(
            LabResultAmendment(
                lab_result_id=row.id,
                before=before,
                after=after,
                reason=reason,
                amended_by=actor.username,
                amended_at=utcnow(),
            )
        )
        record_change(
            session,
            actor,
            "UPDATE",
            entity="lab_result",
            entity_id=row.id,
            patient_ids=[row.patient_id],
            detail={"reason": reason, "itemCode": row.item_code},
        )
        if row.pregnancy_id is not None:
            await refresh_pregnancy(session, row.pregnancy_id, changed_by=actor.username)
    return row
