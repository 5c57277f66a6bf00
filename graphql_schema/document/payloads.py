from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.job.types import Job


@strawberry.type(description="生成母子健康手册的结果：排队的后台任务")
class RenderHandbookPayload:
    job: Job | None = strawberry.field(description="生成任务；用 job(id) 轮询或订阅 jobProgress")
    user_errors: list[UserError] = strawberry.field(description="输入错误；有错误时未提交任务")
