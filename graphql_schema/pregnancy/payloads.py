from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.pregnancy.types import Pregnancy


@strawberry.type(description="修改孕产档案（建档、分娩、归档）的结果")
class PregnancyPayload:
    pregnancy: Pregnancy | None = strawberry.field(description="孕产档案；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
    push_warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="桂妇儿推送前检查（与平台规则相同）：建档成功，但建档记录会被平台拒收时列出，"
        "例如缺少联系电话；修正后自动推送",
    )
