from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.correction.types import Correction


@strawberry.type(description="数据更正申请操作（提出、批准、驳回）的结果")
class CorrectionPayload:
    correction: Correction | None = strawberry.field(description="更正申请；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="错误；有错误时什么也没有修改")
