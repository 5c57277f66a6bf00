from __future__ import annotations

import strawberry


@strawberry.type(description="归档查询的计数（bounded count）：只数到上限，超过上限时不再精确计数")
class ArchiveSearchCount:
    count: int = strawberry.field(
        description="符合条件的档案数；capped 为 true 时为 limit+1，表示“超过 limit 条”"
    )
    limit: int = strawberry.field(description="计数上限")
    capped: bool = strawberry.field(description="是否超过上限（此时 count 不是精确值）")
