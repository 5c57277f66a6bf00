from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry

from domain.correction import rules
from domain.correction.models import CorrectionRequest
from domain.correction.targets import MISSING
from domain.patient.rules import mask_phone
from graphql_schema.base import Node, to_global_id


@strawberry.enum(description="数据更正申请的状态")
class CorrectionStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="待审核")
    APPROVED = strawberry.enum_value("APPROVED", description="已批准，更正已生效")
    REJECTED = strawberry.enum_value("REJECTED", description="已驳回，数据未改")


@strawberry.enum(description="可更正字段的值类型")
class CorrectionValueType(enum.Enum):
    STRING = strawberry.enum_value("STRING", description="单行文字")
    TEXT = strawberry.enum_value("TEXT", description="多行文字")
    NUMBER = strawberry.enum_value("NUMBER", description="数字（可有小数）")
    INTEGER = strawberry.enum_value("INTEGER", description="整数")
    DATE = strawberry.enum_value("DATE", description="日期，YYYY-MM-DD")


@strawberry.type(description="可申请更正的字段（correctable field）：记录类型、字段、名称与值类型")
class CorrectableField:
    target_type: str = strawberry.field(
        description="记录类型（GraphQL 类型名），例如 Patient、PrenatalVisit"
    )
    target_label: str = strawberry.field(description="记录类型名称，例如 孕妇、产前检查")
    field: str = strawberry.field(description="字段（GraphQL 字段名），例如 weightKg")
    label: str = strawberry.field(description="字段名称，例如 体重")
    value_type: CorrectionValueType = strawberry.field(description="值类型")
    unit: str | None = strawberry.field(description="单位，例如 kg")
    required: bool = strawberry.field(description="是否不能清空")

    @classmethod
    def of(cls, f: rules.CorrectableField) -> CorrectableField:
        return cls(
            target_type=f.target_type,
            target_label=rules.TARGET_LABELS[f.target_type],
            field=f.field,
            label=f.label,
            value_type=CorrectionValueType(f.kind.value),
            unit=f.unit,
            required=f.required,
        )


def _shown(row: CorrectionRequest, value: str | None, mask: bool) -> str | None:
    if value is None or not mask:
        return value
    if row.target_type == rules.PATIENT and row.field == "phone":
        return mask_phone(value)
    return value


@strawberry.type(
    description="数据更正申请（data-correction request，1.18）：申请人提出，另一位审核人批准后生效"
)
class Correction(Node):
    db_id: strawberry.Private[int]
    target_id: strawberry.ID = strawberry.field(description="要更正的记录的全局ID")
    target_type: str = strawberry.field(description="记录类型，例如 PrenatalVisit")
    target_label: str = strawberry.field(description="记录说明，例如 产前检查 黄丽萍 2025-03-02")
    field: str = strawberry.field(description="字段（GraphQL 字段名）")
    field_label: str = strawberry.field(description="字段名称")
    value_type: CorrectionValueType = strawberry.field(description="值类型")
    old_value: str | None = strawberry.field(description="申请时该字段的值（空为未填写）")
    new_value: str | None = strawberry.field(description="申请的新值（空表示清空）")
    current_value: str | None = strawberry.field(
        description="该字段现在的值；与 oldValue 不同（且未批准）时，批准会失败"
    )
    target_exists: bool = strawberry.field(description="要更正的记录是否仍存在")
    reason: str = strawberry.field(description="更正原因")
    status: CorrectionStatus = strawberry.field(description="状态")
    requested_by: str = strawberry.field(description="申请人（用户名）")
    requested_at: dt.datetime = strawberry.field(description="申请时间")
    decided_by: str | None = strawberry.field(description="审核人（用户名）")
    decided_at: dt.datetime | None = strawberry.field(description="审核时间")
    decision_reason: str | None = strawberry.field(description="驳回原因")
    applied_before: str | None = strawberry.field(description="批准时更正前的值")
    applied_after: str | None = strawberry.field(
        description="批准后保存的值（按该字段的规则规范化后）"
    )

    @classmethod
    def from_row(cls, row: CorrectionRequest, current: Any, *, mask: bool) -> Correction:
        field = rules.BY_TARGET[row.target_type][row.field]
        exists = current is not MISSING
        return cls(
            id=to_global_id("Correction", row.id),
            db_id=row.id,
            target_id=to_global_id(row.target_type, row.target_id),
            target_type=row.target_type,
            target_label=row.target_label,
            field=row.field,
            field_label=field.label,
            value_type=CorrectionValueType(field.kind.value),
            old_value=_shown(row, row.old_value, mask),
            new_value=_shown(row, row.new_value, mask),
            current_value=_shown(row, current if exists else None, mask),
            target_exists=exists,
            reason=row.reason,
            status=CorrectionStatus(row.status),
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            applied_before=_shown(row, row.applied_before, mask),
            applied_after=_shown(row, row.applied_after, mask),
        )
