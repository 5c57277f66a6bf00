from __future__ import annotations

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="修改系统参数的输入")
class SetParameterInput:
    key: str = strawberry.field(description="参数键，例如 nt_cutoff_mm")
    value: JSON = strawberry.field(
        description="新值，类型须与参数一致：数字、整数、true/false 或文字"
    )
