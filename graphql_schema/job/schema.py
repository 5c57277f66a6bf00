from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from domain.errors import FieldError
from graphql_schema.base import expect_id
from graphql_schema.errors import bad_input
from graphql_schema.job.types import Job
from graphql_schema.permissions import IsAuthenticated
from resolvers.job import queries


def _job_id(global_id: str) -> int:
    row_id = expect_id(global_id, "Job", "jobId")
    if isinstance(row_id, FieldError):
        raise bad_input(row_id.message)
    return row_id


@strawberry.type
class JobQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="按ID查看后台任务（轮询进度）；只能看到自己提交的任务，管理员可看全部",
    )
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="任务ID")]
    ) -> Job | None:
        row = await queries.visible_job(info.context, _job_id(id))
        return Job.from_row(row) if row is not None else None


@strawberry.type
class JobSubscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="订阅后台任务进度（graphql-ws）：先推送当前状态，之后每次变化推送一次，任务结束后完成",
    )
    async def job_progress(
        self,
        info: Info,
        job_id: Annotated[strawberry.ID, strawberry.argument(description="任务ID")],
    ) -> AsyncGenerator[Job, None]:
        ctx = info.context
        row = await queries.visible_job(ctx, _job_id(job_id))
        if row is None:
            raise GraphQLError("任务不存在", extensions={"code": "NOT_FOUND"})
        async for current in queries.watch(ctx, row):
            yield Job.from_row(current)
