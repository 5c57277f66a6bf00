from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_schema.base import UserError
from graphql_schema.parameter.inputs import SetParameterInput
from graphql_schema.parameter.payloads import SetParameterPayload
from graphql_schema.parameter.permissions import ADMINISTER, READ_PARAMETERS
from graphql_schema.parameter.types import SystemParameter
from resolvers.parameter import mutations, queries


@strawberry.type
class ParameterQuery:
    @strawberry.field(
        permission_classes=READ_PARAMETERS,
        description="全部系统参数及其当前值（管理员、审计员）",
    )
    async def parameters(self, info: Info) -> list[SystemParameter]:
        return [SystemParameter.of(p) for p in await queries.parameters(info.context)]


@strawberry.type
class ParameterMutation:
    @strawberry.mutation(
        permission_classes=ADMINISTER,
        description="修改系统参数：按参数的类型与范围校验，记入审计日志，各进程数秒内生效（管理员）",
    )
    async def set_parameter(self, info: Info, input: SetParameterInput) -> SetParameterPayload:
        result = await mutations.set_parameter(info.context, input.key.strip(), input.value)
        if isinstance(result, list):
            return SetParameterPayload(
                parameter=None, user_errors=[UserError.of(e) for e in result]
            )
        return SetParameterPayload(parameter=SystemParameter.of(result), user_errors=[])
