from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_schema.base import UserError
from graphql_schema.lab.types import LabResult, RiskFactorProposal
from graphql_schema.risk.types import RiskFactor

if TYPE_CHECKING:
    from graphql_schema.pregnancy.types import Pregnancy


@strawberry.type(description="修改检验结果的结果")
class AmendLabResultPayload:
    lab_result: LabResult | None = strawberry.field(description="修改后的检验结果；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")


@strawberry.type(description="从检验系统（LIS）回填检验历史的结果（计数）")
class BackfillLabHistoryPayload:
    received: int = strawberry.field(description="从检验系统收到的结果条数")
    stored: int = strawberry.field(description="新入库的条数")
    corrected: int = strawberry.field(description="检验系统已更正、本次作为修订记录的条数")
    unchanged: int = strawberry.field(description="已存在且未变化的条数（重复回填不会重复入库）")
    rejected: int = strawberry.field(
        description="未入库的条数（项目未映射、内容无法读取等），见 userErrors"
    )
    proposals: int = strawberry.field(description="因阳性结果新产生的高危因素建议数")
    user_errors: list[UserError] = strawberry.field(
        description="未入库条目的原因，或整体失败的原因（如 UPSTREAM_UNAVAILABLE）"
    )


@strawberry.type(description="确认或驳回高危因素建议的结果")
class RiskFactorProposalPayload:
    proposal: RiskFactorProposal | None = strawberry.field(description="建议；有错误时为空")
    risk_factor: RiskFactor | None = strawberry.field(
        description="确认后添加（或已存在）的高危因素"
    )
    pregnancy: Annotated[Pregnancy, strawberry.lazy("graphql_schema.pregnancy.types")] | None = (
        strawberry.field(description="孕产档案（确认后颜色与紫色标记已重新评定）")
    )
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
