"""Who may see and run inspections: administrators run them and read the reports;
auditors read the reports (1.24: the report is evidence of the maintenance done)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanReadInspections(BasePermission):
    message = "没有查看巡检报告的权限（需要管理员或审计员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.ADMINISTER) or actor.can(Permission.READ_AUDIT)
        )


class CanRunInspections(BasePermission):
    message = "没有发起巡检的权限（需要管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(Permission.ADMINISTER)


READ_INSPECTIONS = [IsAuthenticated, CanReadInspections]
RUN_INSPECTIONS = [IsAuthenticated, CanRunInspections]
