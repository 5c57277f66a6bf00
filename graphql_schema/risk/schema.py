from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from domain.risk.models import RiskFactor as FactorRow
from domain.risk.service import FactorDiagnosis
from graphql_schema.base import UserError, expect_id
from graphql_schema.permissions import WRITE
from graphql_schema.risk.inputs import (
    AddRiskFactorInput,
    EditRiskFactorInput,
    RemoveRiskFactorInput,
)
from graphql_schema.risk.payloads import RiskFactorPayload
from graphql_schema.risk.types import RiskFactor
from resolvers.risk import mutations


def _payload(result: FactorRow | list[FieldError]) -> RiskFactorPayload:
    if isinstance(result, list):
        return RiskFactorPayload(risk_factor=None, user_errors=[UserError.of(e) for e in result])
    return RiskFactorPayload(risk_factor=RiskFactor.from_row(result), user_errors=[])


@strawberry.type
class RiskMutation:
    @strawberry.mutation(
        permission_classes=WRITE, description="添加高危因素；孕产档案的颜色随之重新评定"
    )
    async def add_risk_factor(self, info: Info, input: AddRiskFactorInput) -> RiskFactorPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return _payload([pregnancy_id])
        diagnosis = FactorDiagnosis(input.diagnosis, input.icd10_code)
        return _payload(await mutations.add(info.context, pregnancy_id, input.code, diagnosis))

    @strawberry.mutation(
        permission_classes=WRITE, description="修改高危因素的诊断（来源变为 MANUAL）"
    )
    async def edit_risk_factor(self, info: Info, input: EditRiskFactorInput) -> RiskFactorPayload:
        factor_id = expect_id(input.risk_factor_id, "RiskFactor", "riskFactorId")
        if isinstance(factor_id, FieldError):
            return _payload([factor_id])
        diagnosis = FactorDiagnosis(input.diagnosis, input.icd10_code)
        return _payload(await mutations.edit(info.context, factor_id, diagnosis))

    @strawberry.mutation(
        permission_classes=WRITE, description="删除高危因素（保留历史）；颜色随之重新评定"
    )
    async def remove_risk_factor(
        self, info: Info, input: RemoveRiskFactorInput
    ) -> RiskFactorPayload:
        factor_id = expect_id(input.risk_factor_id, "RiskFactor", "riskFactorId")
        if isinstance(factor_id, FieldError):
            return _payload([factor_id])
        return _payload(await mutations.remove(info.context, factor_id, input.reason))
