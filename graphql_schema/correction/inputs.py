from __future__ import annotations

import datetime as dt

import strawberry

from graphql_schema.correction.types import CorrectionStatus


@strawberry.input(description="提出数据更正申请的输入")
class RequestCorrectionInput:
    target_id: strawberry.ID = strawberry.field(
        description="要更正的记录的全局ID（孕妇、孕产档案、产检、高危因素或检验结果）"
    )
    field: str = strawberry.field(description="字段（GraphQL 字段名），见 correctableFields")
    new_value: str = strawberry.field(
        description="新值（文字形式：数字如 62.5，日期如 2025-03-02）；空表示清空可选字段"
    )
    reason: str = strawberry.field(description="更正原因（必填）")


@strawberry.input(description="批准数据更正申请的输入")
class ApproveCorrectionInput:
    correction_id: strawberry.ID = strawberry.field(description="更正申请的全局ID")


@strawberry.input(description="驳回数据更正申请的输入")
class RejectCorrectionInput:
    correction_id: strawberry.ID = strawberry.field(description="更正申请的全局ID")
    reason: str = strawberry.field(description="驳回原因（必填）")


@strawberry.input(description="数据更正申请的筛选条件")
class CorrectionFilter:
    status: CorrectionStatus | None = strawberry.field(default=None, description="只看该状态")
    target_type: str | None = strawberry.field(
        default=None, description="只看该记录类型，例如 PrenatalVisit"
    )
    requested_by: str | None = strawberry.field(default=None, description="只看该申请人（用户名）")
    patient_id: strawberry.ID | None = strawberry.field(
        default=None, description="只看该孕妇的数据（全局ID）"
    )
    requested_from: dt.datetime | None = strawberry.field(default=None, description="申请时间起")
    requested_to: dt.datetime | None = strawberry.field(default=None, description="申请时间止")
