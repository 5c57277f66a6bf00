from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.pregnancy.types import Pregnancy


@strawberry.type(description="修改孕产档案（建档、分娩、归档）的结果")
class PregnancyPayload:
    pregnancy: Pregnancy | None = strawberry.field(description="孕产档案；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
