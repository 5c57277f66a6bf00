from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from domain.risk.models import RiskFactor as FactorRow
from domain.risk.service import FactorDiagnosis, RecordedFactor
from graphql_schema.base import UserError, expect_id
from graphql_schema.emr.schema import diagnosis_suggestions
from graphql_schema.emr.types import EmrDiagnosis
from graphql_schema.errors import bad_input
from graphql_schema.permissions import READ, WRITE
from graphql_schema.risk.inputs import (
    AddRiskFactorInput,
    EditRiskFactorInput,
    RemoveRiskFactorInput,
)
from graphql_schema.risk.payloads import RiskFactorPayload
from graphql_schema.risk.types import RiskFactor
from resolvers.emr import queries as emr_queries
from resolvers.push import queries as push_queries
from resolvers.risk import mutations


async def _payload(
    info: Info, result: FactorRow | RecordedFactor | list[FieldError]
) -> RiskFactorPayload:
    if isinstance(result, list):
        return RiskFactorPayload(risk_factor=None, user_errors=[UserError.of(e) for e in result])
    factor = result.factor if isinstance(result, RecordedFactor) else result
    warnings = result.warnings if isinstance(result, RecordedFactor) else ()
    push = await push_queries.preflight_warnings(info.context, factor.pregnancy_id)
    return RiskFactorPayload(
        risk_factor=RiskFactor.from_row(factor),
        user_errors=[],
        warnings=[UserError.of(w) for w in warnings],
        push_warnings=[UserError.of(w) for w in push],
    )


@strawberry.type
class RiskQuery:
    @strawberry.field(
        permission_classes=READ,
        description="添加高危因素前查看：电子病历（EMR）中该孕妇与该因素 ICD-10 范围相符的诊断，"
        "供医生选择（优先级高的范围在前，同一范围内最新的在前）；EMR 不可用或未配置时为 null，"
        "并附 UPSTREAM_UNAVAILABLE 错误",
    )
    async def risk_factor_diagnosis_suggestions(
        self,
        info: Info,
        pregnancy_id: Annotated[strawberry.ID, strawberry.argument(description="孕产档案的全局ID")],
        code: Annotated[str, strawberry.argument(description="高危因素编码，例如 Y-GDM")],
    ) -> list[EmrDiagnosis] | None:
        db_id = expect_id(pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(db_id, FieldError):
            raise bad_input(db_id.message)
        if not await emr_queries.factor_in_dictionary(info.context, code):
            raise bad_input(f"高危因素编码 {code} 不在数据字典中或已停用")
        if await info.context.loaders.pregnancy_by_id.load(db_id) is None:
            raise bad_input(f"孕产档案 {pregnancy_id} 不存在")
        return await diagnosis_suggestions(info, db_id, code)


@strawberry.type
class RiskMutation:
    @strawberry.mutation(
        permission_classes=WRITE, description="添加高危因素；孕产档案的颜色随之重新评定"
    )
    async def add_risk_factor(self, info: Info, input: AddRiskFactorInput) -> RiskFactorPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return await _payload(info, [pregnancy_id])
        diagnosis = FactorDiagnosis(input.diagnosis, input.icd10_code)
        return await _payload(
            info, await mutations.add(info.context, pregnancy_id, input.code, diagnosis)
        )

    @strawberry.mutation(
        permission_classes=WRITE, description="修改高危因素的诊断（来源变为 MANUAL）"
    )
    async def edit_risk_factor(self, info: Info, input: EditRiskFactorInput) -> RiskFactorPayload:
        factor_id = expect_id(input.risk_factor_id, "RiskFactor", "riskFactorId")
        if isinstance(factor_id, FieldError):
            return await _payload(info, [factor_id])
        return await _payload(info, await mutations.edit(info.context, factor_id, input.changes()))

    @strawberry.mutation(
        permission_classes=WRITE, description="删除高危因素（保留历史）；颜色随之重新评定"
    )
    async def remove_risk_factor(
        self, info: Info, input: RemoveRiskFactorInput
    ) -> RiskFactorPayload:
        factor_id = expect_id(input.risk_factor_id, "RiskFactor", "riskFactorId")
        if isinstance(factor_id, FieldError):
            return await _payload(info, [factor_id])
        return await _payload(info, await mutations.remove(info.context, factor_id, input.reason))
