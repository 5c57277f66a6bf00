from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.dictionary.types import LabCodeMapping, RiskFactorDefinition


@strawberry.type(description="保存高危因素字典条目的结果")
class RiskFactorDefinitionPayload:
    risk_factor_definition: RiskFactorDefinition | None = strawberry.field(
        description="保存后的条目；有错误时为空"
    )
    user_errors: list[UserError] = strawberry.field(description="输入错误；有错误时什么也没有保存")


@strawberry.type(description="保存检验项目编码对照的结果")
class LabCodeMappingPayload:
    lab_code_mapping: LabCodeMapping | None = strawberry.field(
        description="保存后的对照；有错误时为空"
    )
    user_errors: list[UserError] = strawberry.field(description="输入错误；有错误时什么也没有保存")
