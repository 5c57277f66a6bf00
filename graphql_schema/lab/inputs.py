from __future__ import annotations

import strawberry

from graphql_schema.lab.types import QualitativeResult


@strawberry.input(description="医生修改检验结果的输入；检验系统的原始值保留在修订历史中")
class AmendLabResultInput:
    lab_result_id: strawberry.ID = strawberry.field(description="检验结果的全局ID")
    value_text: str | None = strawberry.field(
        default=None, description="新的文字结果，例如 阴性、0.03 S/CO；与 result 至少填一个"
    )
    result: QualitativeResult | None = strawberry.field(
        default=None, description="新的定性结果；只填它时文字结果为 阴性/阳性/弱阳性"
    )
    reason: str = strawberry.field(description="修改原因（必填）")
