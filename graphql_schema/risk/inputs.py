from __future__ import annotations

import strawberry
from strawberry import UNSET


@strawberry.input(description="添加高危因素的输入")
class AddRiskFactorInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="孕产档案的全局ID")
    code: str = strawberry.field(description="数据字典中的高危因素编码，例如 Y-GDM")
    diagnosis: str | None = strawberry.field(default=None, description="诊断（原“处理意见”）")
    icd10_code: str | None = strawberry.field(default=None, description="ICD-10 编码，例如 O24.4")


@strawberry.input(
    description="修改高危因素诊断的输入：只改给出的字段，给 null 表示清空；修改后来源为 MANUAL"
)
class EditRiskFactorInput:
    risk_factor_id: strawberry.ID = strawberry.field(description="高危因素的全局ID")
    diagnosis: str | None = strawberry.field(default=UNSET, description="诊断")
    icd10_code: str | None = strawberry.field(default=UNSET, description="ICD-10 编码")

    def changes(self) -> dict[str, str | None]:
        given = {"diagnosis": self.diagnosis, "icd10_code": self.icd10_code}
        return {key: value for key, value in given.items() if value is not UNSET}


@strawberry.input(description="删除高危因素的输入（保留历史）")
class RemoveRiskFactorInput:
    risk_factor_id: strawberry.ID = strawberry.field(description="高危因素的全局ID")
    reason: str | None = strawberry.field(default=None, description="删除原因")
