from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.job.types import Job


@strawberry.type(description="发起巡检的结果：排队的巡检任务")
class RunInspectionPayload:
    job: Job | None = strawberry.field(description="巡检任务；用 job(id) 轮询或订阅 jobProgress")
    user_errors: list[UserError] = strawberry.field(description="错误；有错误时未提交任务")
