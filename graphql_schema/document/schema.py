from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from graphql_schema.base import UserError, expect_id
from graphql_schema.document.payloads import RenderHandbookPayload
from graphql_schema.job.types import Job
from graphql_schema.permissions import WRITE
from resolvers.document import mutations


@strawberry.type
class DocumentMutation:
    @strawberry.mutation(
        permission_classes=WRITE,
        description="生成孕产档案的母子健康手册 PDF（后台任务，A5，含备注/特殊记录）；返回任务（医生）",
    )
    async def render_handbook(
        self,
        info: Info,
        pregnancy_id: Annotated[strawberry.ID, strawberry.argument(description="孕产档案ID")],
    ) -> RenderHandbookPayload:
        row_id = expect_id(pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(row_id, FieldError):
            return RenderHandbookPayload(job=None, user_errors=[UserError.of(row_id)])
        result = await mutations.render_handbook(info.context, row_id)
        if isinstance(result, list):
            return RenderHandbookPayload(job=None, user_errors=[UserError.of(e) for e in result])
        return RenderHandbookPayload(job=Job.from_row(result), user_errors=[])
