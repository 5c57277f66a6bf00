from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.parameter.types import SystemParameter


@strawberry.type(description="修改系统参数的结果")
class SetParameterPayload:
    parameter: SystemParameter | None = strawberry.field(description="修改后的参数；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；有错误时什么也没有修改")
