from __future__ import annotations

import strawberry


@strawberry.input(description="添加高危因素的输入")
class AddRiskFactorInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="孕产档案的全局ID")
    code: str = strawberry.field(description="数据字典中的高危因素编码，例如 Y-GDM")
    diagnosis: str | None = strawberry.field(default=None, description="诊断（原“处理意见”）")
    icd10_code: str | None = strawberry.field(default=None, description="ICD-10 编码，例如 O24.4")


@strawberry.input(description="修改高危因素诊断的输入；修改后来源为 MANUAL")
class EditRiskFactorInput:
    risk_factor_id: strawberry.ID = strawberry.field(description="高危因素的全局ID")
    diagnosis: str | None = strawberry.field(description="诊断")
    icd10_code: str | None = strawberry.field(default=None, description="ICD-10 编码")


@strawberry.input(description="删除高危因素的输入（保留历史）")
class RemoveRiskFactorInput:
    risk_factor_id: strawberry.ID = strawberry.field(description="高危因素的全局ID")
    reason: str | None = strawberry.field(default=None, description="删除原因")
