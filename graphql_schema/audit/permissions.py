"""The audit log is read by auditors (审计员) only."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanReadAudit(BasePermission):
    message = "没有查看审计日志的权限（需要审计员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(Permission.READ_AUDIT)


READ_AUDIT = [IsAuthenticated, CanReadAudit]
