from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.push.types import PushChannel, PushMapping, PushReconciliation, PushRecord


@strawberry.type(description="操作推送记录的结果")
class PushRecordsPayload:
    records: list[PushRecord] = strawberry.field(description="操作后的记录；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="错误；为空表示成功")


@strawberry.type(description="恢复推送通道的结果")
class PushChannelPayload:
    channel: PushChannel | None = strawberry.field(description="通道状态")
    user_errors: list[UserError] = strawberry.field(description="错误；为空表示成功")


@strawberry.type(description="保存推送映射的结果")
class PushMappingPayload:
    mapping: PushMapping | None = strawberry.field(description="新版本；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="错误；为空表示成功")


@strawberry.type(description="与平台核对的结果")
class PushReconciliationPayload:
    reconciliation: PushReconciliation | None = strawberry.field(description="核对结果")
    user_errors: list[UserError] = strawberry.field(description="错误；为空表示成功")
