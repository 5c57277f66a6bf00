from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.visit.types import PrenatalVisit


@strawberry.type(description="录入或修改产前检查的结果")
class VisitPayload:
    visit: PrenatalVisit | None = strawberry.field(description="产检记录；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
