from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.input(description="审计事件的筛选条件")
class AuditEventFilter:
    actor: str | None = strawberry.field(default=None, description="操作人（用户名）")
    patient_id: strawberry.ID | None = strawberry.field(
        default=None, description="涉及该孕妇（全局ID）"
    )
    action: str | None = strawberry.field(
        default=None, description="动作，例如 READ、UPDATE、APPROVE_CORRECTION"
    )
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="时间起（不带时区时按医院当地时间）"
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="时间止（含；不带时区时按医院当地时间）"
    )
