"""Who may run, export and define reports.

Reports are aggregates for the people who run the department (admin) and for those
who check it (auditor). Doctors work on individual women and do not get the
department's statistics through the API.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanRunReports(BasePermission):
    message = "没有查看或导出统计报表的权限（需要管理员或审计员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.ADMINISTER) or actor.can(Permission.READ_AUDIT)
        )


class CanEditReports(BasePermission):
    message = "没有修改报表定义的权限（需要管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(Permission.ADMINISTER)


RUN_REPORTS = [IsAuthenticated, CanRunReports]
EDIT_REPORTS = [IsAuthenticated, CanEditReports]
