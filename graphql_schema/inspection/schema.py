from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_schema.base import Connection, UserError, checked_page, connection_of
from graphql_schema.inspection.payloads import RunInspectionPayload
from graphql_schema.inspection.permissions import READ_INSPECTIONS, RUN_INSPECTIONS
from graphql_schema.inspection.types import InspectionReport
from graphql_schema.job.types import Job
from resolvers.inspection import mutations, queries


@strawberry.type
class InspectionQuery:
    @strawberry.field(
        permission_classes=READ_INSPECTIONS,
        description="巡检报告（最新在前）：测得数值、发现、对比与 PDF 下载链接（管理员、审计员）",
    )
    async def inspection_reports(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[InspectionReport]:
        ctx = info.context
        size, after_id = checked_page(first, after)
        page = await queries.inspection_page(ctx, size, after_id)
        return connection_of(
            page,
            [InspectionReport.from_row(row) for row in page.rows],
            lambda: queries.inspection_count(ctx),
        )


@strawberry.type
class InspectionMutation:
    @strawberry.mutation(
        permission_classes=RUN_INSPECTIONS,
        description="立即发起一次系统巡检（后台任务），完成后生成巡检报告与 PDF（管理员）",
    )
    async def run_inspection(self, info: Info) -> RunInspectionPayload:
        result = await mutations.run_inspection(info.context)
        if isinstance(result, list):
            return RunInspectionPayload(job=None, user_errors=[UserError.of(e) for e in result])
        return RunInspectionPayload(job=Job.from_row(result), user_errors=[])
