from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.input(description="归档查询条件（archive search）：文字与日期范围同时给出时须同时满足")
class ArchiveSearchInput:
    text: str | None = strawberry.field(
        default=None,
        description="姓名（两个字及以上按包含匹配，单个字按姓氏匹配）、拼音首字母（前缀）、"
        "身份证号、电话、手册编号（前缀，完整号码即精确匹配）；空格分隔的多个词须同时匹配",
    )
    delivered_from: dt.date | None = strawberry.field(default=None, description="分娩日期起")
    delivered_to: dt.date | None = strawberry.field(default=None, description="分娩日期止（含）")
    archived_from: dt.date | None = strawberry.field(
        default=None, description="归档日期起（医院当地日期）"
    )
    archived_to: dt.date | None = strawberry.field(
        default=None, description="归档日期止（含，医院当地日期）"
    )


@strawberry.input(description="重新打开归档的输入")
class ReopenArchiveInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="已归档孕产档案的全局ID")
    reason: str = strawberry.field(description="重新打开的原因（必填，记入审计日志）")
