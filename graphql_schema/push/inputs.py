from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from graphql_schema.push.types import PushRecordType, PushStatus


@strawberry.input(description="推送记录筛选条件（push record filter）")
class PushRecordFilter:
    statuses: list[PushStatus] | None = strawberry.field(default=None, description="只看这些状态")
    record_types: list[PushRecordType] | None = strawberry.field(
        default=None, description="只看这些记录类型"
    )
    pregnancy_id: strawberry.ID | None = strawberry.field(
        default=None, description="只看该孕产档案的记录"
    )
    record_id: str | None = strawberry.field(default=None, description="平台 recordId")
    mismatched: bool | None = strawberry.field(
        default=None, description="true：只看核对时与平台版本不一致的记录"
    )
    waiting_for_registration: bool | None = strawberry.field(
        default=None, description="true：只看因建档记录尚未被接收而等待的记录"
    )
    changed_since: dt.datetime | None = strawberry.field(
        default=None, description="只看此时间之后有变化的记录"
    )


@strawberry.input(description="立即重试推送记录")
class RetryPushRecordsInput:
    ids: list[strawberry.ID] = strawberry.field(description="推送记录的全局ID")


@strawberry.input(description="放弃推送一条记录（需填写原因，记录保留）")
class DiscardPushRecordInput:
    id: strawberry.ID = strawberry.field(description="推送记录的全局ID")
    reason: str = strawberry.field(description="放弃原因（必填）")


@strawberry.input(
    description="重新推送（replay）：以新版本重新发送；多于一条时须在 expectedCount 中确认数量"
)
class ReplayPushRecordsInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="指定的推送记录；与 filter 二选一"
    )
    filter: PushRecordFilter | None = strawberry.field(default=None, description="按条件选择记录")
    expected_count: int | None = strawberry.field(
        default=None, description="确认将重新推送的记录数（多于一条时必填且须一致）"
    )


@strawberry.input(description="审核放行待审核的推送记录（须由修改人以外的人操作）")
class ApprovePushRecordsInput:
    ids: list[strawberry.ID] = strawberry.field(description="推送记录的全局ID")


@strawberry.input(description="保存新版本的推送映射配置")
class SavePushMappingInput:
    document: JSON = strawberry.field(
        description="映射：{fields: {记录类型: {平台字段: 本系统字段}}, codes: {代码表: {本系统代码: 平台代码}}}"
    )
    note: str | None = strawberry.field(default=None, description="版本说明")
