"""Everyone signed in reads the dictionary (doctors pick factors from it); administrators
edit it; administrators and auditors read its history."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.parameter.permissions import ADMINISTER, CanReadParameters
from graphql_schema.permissions import IsAuthenticated


class CanReadDictionary(BasePermission):
    message = "没有查看数据字典的权限"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.READ_PATIENTS) or actor.can(Permission.ADMINISTER)
        )


class CanReadDictionaryHistory(CanReadParameters):
    message = "没有查看数据字典修改记录的权限（需要管理员或审计员角色）"


READ_DICTIONARY = [IsAuthenticated, CanReadDictionary]
READ_HISTORY = [IsAuthenticated, CanReadDictionaryHistory]
EDIT_DICTIONARY = ADMINISTER
