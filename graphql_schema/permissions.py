"""Permission classes attached to fields."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission


class IsAuthenticated(BasePermission):
    message = "需要登录：请使用会话或 Bearer 令牌"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.actor is not None


class _Requires(BasePermission):
    permission: Permission
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(self.permission)


class CanReadPatients(_Requires):
    permission = Permission.READ_PATIENTS
    message = "没有查看患者数据的权限"


class CanWriteClinical(_Requires):
    permission = Permission.WRITE_CLINICAL
    message = "没有录入或修改临床数据的权限（需要医生角色）"


READ = [IsAuthenticated, CanReadPatients]
WRITE = [IsAuthenticated, CanWriteClinical]


def any_of(*permissions: Permission, message: str) -> list[type[BasePermission]]:
    """Signed in and holding at least one of `permissions`; otherwise FORBIDDEN with `message`."""

    class HoldsAnyOf(BasePermission):
        error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            actor = info.context.actor
            return actor is not None and any(actor.can(p) for p in permissions)

    HoldsAnyOf.message = message
    return [IsAuthenticated, HoldsAnyOf]
