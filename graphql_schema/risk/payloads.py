from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.risk.types import RiskFactor


@strawberry.type(description="添加、修改或删除高危因素的结果")
class RiskFactorPayload:
    risk_factor: RiskFactor | None = strawberry.field(description="高危因素；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
    warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="提醒：操作已成功，但有需要医生知道的情况，例如 EMR_UNAVAILABLE"
        "（电子病历暂不可用，诊断未能自动填入）",
    )
    push_warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="桂妇儿推送前检查（与平台规则相同）：该孕产档案有记录会被平台拒收时列出，"
        "例如非绿色产检缺少诊断（请为高危因素填写诊断）",
    )
