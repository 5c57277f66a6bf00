"""Parameters are set by administrators; auditors may read them (they explain behaviour)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanReadParameters(BasePermission):
    message = "没有查看系统参数的权限（需要管理员或审计员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.ADMINISTER) or actor.can(Permission.READ_AUDIT)
        )


class CanAdminister(BasePermission):
    message = "没有修改系统设置的权限（需要管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(Permission.ADMINISTER)


READ_PARAMETERS = [IsAuthenticated, CanReadParameters]
ADMINISTER = [IsAuthenticated, CanAdminister]
