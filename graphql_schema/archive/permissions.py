"""Who may reopen an archive: doctors (who archive) and administrators (information office)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanReopenArchives(BasePermission):
    message = "没有重新打开归档的权限（需要医生或管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.WRITE_CLINICAL) or actor.can(Permission.ADMINISTER)
        )


REOPEN_ARCHIVES = [IsAuthenticated, CanReopenArchives]
