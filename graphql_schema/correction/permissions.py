"""Doctors and administrators ask for corrections; approvers decide; everyone who reads
patient data, and approvers, see the requests."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanRequestCorrections(BasePermission):
    message = "没有提出数据更正申请的权限（需要医生或管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.WRITE_CLINICAL) or actor.can(Permission.ADMINISTER)
        )


class CanApproveCorrections(BasePermission):
    message = "没有审核数据更正申请的权限（需要审核人角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(Permission.APPROVE_CORRECTIONS)


class CanSeeCorrections(BasePermission):
    message = "没有查看数据更正申请的权限"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.READ_PATIENTS) or actor.can(Permission.APPROVE_CORRECTIONS)
        )


REQUEST = [IsAuthenticated, CanRequestCorrections]
DECIDE = [IsAuthenticated, CanApproveCorrections]
SEE = [IsAuthenticated, CanSeeCorrections]
