from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.patient.rules import mask_phone, mask_resident_id
from domain.push.models import PushAttempt as AttemptRow
from domain.push.models import PushChannel as ChannelRow
from domain.push.models import PushRecord as RecordRow
from domain.push.service import STATUS_LABELS, Preview
from graphql_schema.base import to_global_id


@strawberry.enum(description="桂妇儿记录类型（record type）")
class PushRecordType(enum.Enum):
    MATERNAL_REGISTRATION = strawberry.enum_value("MATERNAL_REGISTRATION", description="孕产妇建档")
    PRENATAL_VISIT = strawberry.enum_value("PRENATAL_VISIT", description="产前检查")
    HIGH_RISK_ASSESSMENT = strawberry.enum_value("HIGH_RISK_ASSESSMENT", description="高危评估")
    INFECTIOUS_SCREENING = strawberry.enum_value("INFECTIOUS_SCREENING", description="传染病检测")
    ULTRASOUND_NT = strawberry.enum_value("ULTRASOUND_NT", description="NT 检查")


@strawberry.enum(description="推送状态（push status）")
class PushStatus(enum.Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="待推送（含等待重试、等待建档记录被接收）"
    )
    HELD = strawberry.enum_value("HELD", description="待审核：需另一人审核后才推送")
    DELIVERED = strawberry.enum_value("DELIVERED", description="已接收：平台已接收当前版本")
    REJECTED = strawberry.enum_value(
        "REJECTED", description="需修正数据：推送前检查或平台校验未通过，修正后自动推送新版本"
    )
    SUPERSEDED = strawberry.enum_value("SUPERSEDED", description="已被取代：平台已有更高版本")
    DISCARDED = strawberry.enum_value("DISCARDED", description="已放弃：由人决定不推送（保留原因）")


@strawberry.type(description="平台或推送前检查指出的字段问题（field error）")
class PushFieldError:
    field: str = strawberry.field(description="平台字段路径，例如 data.diagnosis")
    reason: str = strawberry.field(description="原因（中文）")


@strawberry.type(description="最近一次失败（last error）：平台的答复与字段问题")
class PushError:
    outcome: str = strawberry.field(
        description="处理结论：PREFLIGHT（推送前检查）、FIX_DATA、FIX_CONFIGURATION、TRY_LATER、SUPERSEDED"
    )
    code: int | None = strawberry.field(description="平台答复代码，例如 2001；无答复时为空")
    http_status: int | None = strawberry.field(description="HTTP 状态码；无答复时为空")
    message: str = strawberry.field(description="说明（中文）")
    field_errors: list[PushFieldError] = strawberry.field(description="逐字段问题")

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> PushError | None:
        if not raw:
            return None
        return cls(
            outcome=str(raw.get("outcome", "")),
            code=raw.get("code") if isinstance(raw.get("code"), int) else None,
            http_status=raw.get("httpStatus") if isinstance(raw.get("httpStatus"), int) else None,
            message=str(raw.get("message", "")),
            field_errors=_field_errors(raw.get("fieldErrors")),
        )


@strawberry.type(description="一次推送尝试（push attempt）")
class PushAttempt:
    version: int = strawberry.field(description="发送的版本号")
    attempted_at: dt.datetime = strawberry.field(description="发送时间")
    duration_ms: int = strawberry.field(description="耗时（毫秒）")
    outcome: str = strawberry.field(
        description="结论：DELIVERED、SUPERSEDED、FIX_DATA、FIX_CONFIGURATION、TRY_LATER"
    )
    code: int | None = strawberry.field(description="平台答复代码")
    http_status: int | None = strawberry.field(description="HTTP 状态码")
    detail: str = strawberry.field(description="说明（中文）")
    field_errors: list[PushFieldError] = strawberry.field(description="平台指出的字段问题")

    @classmethod
    def from_row(cls, row: AttemptRow) -> PushAttempt:
        return cls(
            version=row.version,
            attempted_at=row.attempted_at,
            duration_ms=row.duration_ms,
            outcome=row.outcome,
            code=row.code,
            http_status=row.http_status,
            detail=row.detail,
            field_errors=_field_errors(row.field_errors),
        )


@strawberry.type(
    description="桂妇儿推送记录（push record）：一条平台记录的当前版本、状态、尝试与最近错误"
)
class PushRecord:
    id: strawberry.ID = strawberry.field(description="全局ID")
    db_id: strawberry.Private[int]
    record_type: PushRecordType = strawberry.field(description="记录类型")
    record_id: str = strawberry.field(description="平台 recordId（永久不变）")
    pregnancy_id: strawberry.ID = strawberry.field(description="所属孕产档案的全局ID")
    version: int = strawberry.field(description="当前版本号（内容每变一次加一）")
    delivered_version: int | None = strawberry.field(description="平台已接收的最高版本")
    status: PushStatus = strawberry.field(description="状态")
    status_label: str = strawberry.field(description="状态（中文）")
    attempts: int = strawberry.field(description="当前版本已尝试次数")
    next_attempt_at: dt.datetime | None = strawberry.field(description="下次尝试时间")
    last_attempt_at: dt.datetime | None = strawberry.field(description="最近尝试时间")
    delivered_at: dt.datetime | None = strawberry.field(description="最近被接收的时间")
    platform_id: str | None = strawberry.field(description="平台返回的记录编号")
    last_error: PushError | None = strawberry.field(description="最近一次失败；成功后清空")
    payload: JSON = strawberry.field(
        description="当前版本发送的内容（patient 与 data）；无权查看身份证号的角色看到脱敏值"
    )
    changed_by: str | None = strawberry.field(description="产生当前版本的修改人")
    reviewed_by: str | None = strawberry.field(description="审核放行人（需审核时）")
    platform_version: int | None = strawberry.field(
        description="核对时平台持有的版本；与已接收版本不同即为不一致"
    )
    reconciled_at: dt.datetime | None = strawberry.field(description="最近核对时间")
    discarded_by: str | None = strawberry.field(description="放弃推送的人")
    discarded_at: dt.datetime | None = strawberry.field(description="放弃时间")
    discard_reason: str | None = strawberry.field(description="放弃原因")
    created_at: dt.datetime = strawberry.field(description="首次写入推送队列的时间")
    updated_at: dt.datetime = strawberry.field(description="最近变化时间")

    @strawberry.field(description="推送尝试历史（最新的在前，最多100条）")
    async def history(self, info: Info) -> list[PushAttempt]:
        from resolvers.push.queries import attempts

        return [PushAttempt.from_row(row) for row in await attempts(info.context, self.db_id)]

    @classmethod
    def from_row(cls, row: RecordRow, *, reveal: bool) -> PushRecord:
        return cls(
            id=to_global_id("PushRecord", row.id),
            db_id=row.id,
            record_type=PushRecordType(row.record_type),
            record_id=row.record_id,
            pregnancy_id=to_global_id("Pregnancy", row.pregnancy_id),
            version=row.version,
            delivered_version=row.delivered_version,
            status=PushStatus(row.status),
            status_label=STATUS_LABELS.get(row.status, row.status),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            platform_id=row.platform_id,
            last_error=PushError.of(row.last_error),
            payload=JSON(masked(row.body, reveal=reveal)),
            changed_by=row.changed_by,
            reviewed_by=row.reviewed_by,
            platform_version=row.platform_version,
            reconciled_at=row.reconciled_at,
            discarded_by=row.discarded_by,
            discarded_at=row.discarded_at,
            discard_reason=row.discard_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="推送预览（push preview）：此刻将发送的完整请求体")
class PushPreview:
    record_type: PushRecordType = strawberry.field(description="记录类型")
    record_id: str = strawberry.field(description="平台 recordId")
    version: int = strawberry.field(description="将使用的版本号")
    changed: bool = strawberry.field(description="与推送队列中的内容不同（保存后会产生新版本）")
    status: PushStatus | None = strawberry.field(description="推送队列中的当前状态；尚未写入时为空")
    body: JSON = strawberry.field(description="完整请求体（合同 §2），与实际发送的字节内容一致")
    problems: list[PushFieldError] = strawberry.field(
        description="推送前检查发现的问题（与平台规则相同）；为空表示可以推送"
    )

    @classmethod
    def of(cls, preview: Preview, *, reveal: bool) -> PushPreview:
        return cls(
            record_type=PushRecordType(preview.record_type),
            record_id=preview.record_id,
            version=preview.version,
            changed=preview.changed,
            status=PushStatus(preview.status) if preview.status else None,
            body=JSON(masked(preview.body, reveal=reveal)),
            problems=_field_errors(preview.problems),
        )


@strawberry.type(description="推送通道（push channel）：暂停（配置或时钟错误）与退避状态")
class PushChannel:
    configured: bool = strawberry.field(
        description="是否已配置平台地址与凭据（GUIFUER_BASE_URL、APP_ID、APP_SECRET、ORG_CODE）"
    )
    base_url: str | None = strawberry.field(description="平台地址")
    paused: bool = strawberry.field(description="已暂停：签名、凭据或时钟错误，需处理后恢复")
    pause_reason: str | None = strawberry.field(description="暂停原因与处理办法（中文）")
    paused_at: dt.datetime | None = strawberry.field(description="暂停时间")
    consecutive_failures: int = strawberry.field(description="平台连续不可用的次数")
    retry_at: dt.datetime | None = strawberry.field(description="通道下次尝试的时间（退避中）")
    last_reconcile_at: dt.datetime | None = strawberry.field(description="最近一次核对时间")

    @classmethod
    def of(cls, row: ChannelRow | None, *, configured: bool, base_url: str | None) -> PushChannel:
        return cls(
            configured=configured,
            base_url=base_url,
            paused=bool(row and row.paused),
            pause_reason=row.pause_reason if row else None,
            paused_at=row.paused_at if row else None,
            consecutive_failures=row.failures if row else 0,
            retry_at=row.retry_at if row else None,
            last_reconcile_at=row.last_reconcile_at if row else None,
        )


@strawberry.type(description="按状态与类型的记录数（status count）")
class PushStatusCount:
    status: PushStatus = strawberry.field(description="状态")
    record_type: PushRecordType = strawberry.field(description="记录类型")
    count: int = strawberry.field(description="记录数")


@strawberry.type(description="时间段内的推送尝试数（series point）")
class PushSeriesPoint:
    bucket_start: dt.datetime = strawberry.field(description="时间段开始")
    outcome: str = strawberry.field(description="结论：DELIVERED、FIX_DATA、TRY_LATER…")
    count: int = strawberry.field(description="尝试次数")


@strawberry.type(description="推送统计（push statistics）：当前各状态记录数与各时间段的尝试结果")
class PushStatistics:
    by_status: list[PushStatusCount] = strawberry.field(description="当前各状态、各类型的记录数")
    series: list[PushSeriesPoint] = strawberry.field(description="各时间段、各结论的尝试次数")
    success_rate: float | None = strawberry.field(
        description="时间范围内尝试的成功率（DELIVERED ÷ 全部尝试）；无尝试时为空"
    )


@strawberry.type(description="推送映射配置的一个版本（push mapping）")
class PushMapping:
    version: int = strawberry.field(description="版本号（最新版本生效）")
    document: JSON = strawberry.field(
        description="映射：fields（平台字段 → 本系统字段）与 codes（代码表）"
    )
    note: str | None = strawberry.field(description="说明")
    created_by: str | None = strawberry.field(description="创建人")
    created_at: dt.datetime = strawberry.field(description="创建时间")


@strawberry.type(description="与平台核对的结果（reconciliation）")
class PushReconciliation:
    checked: int = strawberry.field(description="核对的记录数")
    matched: int = strawberry.field(description="版本一致")
    mismatched: int = strawberry.field(description="平台持有其他版本")
    missing: int = strawberry.field(description="平台没有该记录")
    unreadable: int = strawberry.field(description="本次未能读取")
    mismatches: JSON = strawberry.field(
        description="不一致的记录：类型、recordId、已接收版本、平台版本"
    )


def masked(body: dict[str, Any], *, reveal: bool) -> dict[str, Any]:
    if reveal:
        return body
    out = dict(body)
    patient = dict(out.get("patient") or {})
    if isinstance(patient.get("idCardNo"), str):
        patient["idCardNo"] = mask_resident_id(patient["idCardNo"])
    out["patient"] = patient
    data = out.get("data")
    if isinstance(data, dict) and isinstance(data.get("phone"), str):
        out["data"] = {**data, "phone": mask_phone(data["phone"])}
    return out


def _field_errors(raw: object) -> list[PushFieldError]:
    if not isinstance(raw, list):
        return []
    return [
        PushFieldError(field=str(e.get("field", "")), reason=str(e.get("reason", "")))
        for e in raw
        if isinstance(e, dict)
    ]
