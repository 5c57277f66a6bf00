from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.visit.types import PrenatalVisit


@strawberry.type(description="录入或修改产前检查的结果")
class VisitPayload:
    visit: PrenatalVisit | None = strawberry.field(description="产检记录；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
    push_warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="桂妇儿推送前检查（与平台规则相同）：保存成功，但该孕产档案有记录会被平台拒收，"
        "例如非绿色产检缺少诊断；修正后自动推送新版本",
    )
