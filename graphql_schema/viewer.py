from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.auth.actor import Permission


@strawberry.type(description="当前登录的用户（viewer）")
class Viewer:
    username: str = strawberry.field(description="用户名")
    roles: list[str] = strawberry.field(
        description="角色：doctor、admin、auditor、approver（审核人）"
    )
    permissions: list[str] = strawberry.field(description="角色带来的权限")
    sees_identifiers: bool = strawberry.field(description="能否看到完整身份证号和电话")


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="当前用户；未登录时为空")
    def viewer(self, info: Info) -> Viewer | None:
        actor = info.context.actor
        if actor is None:
            return None
        return Viewer(
            username=actor.username,
            roles=sorted(r.value for r in actor.roles),
            permissions=sorted(p.value for p in actor.permissions),
            sees_identifiers=actor.can(Permission.SEE_IDENTIFIERS),
        )
