"""Who may see and reprocess received messages: doctors and administrators.

Doctors register the woman a message could not be matched to and reprocess it; the
information office (admin) fixes the dictionary and reprocesses. Auditors read patient
data only through the audited clinical views, not the raw messages.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.actor import Permission
from graphql_schema.permissions import IsAuthenticated


class CanHandleInbound(BasePermission):
    message = "没有查看或重新处理接收消息的权限（需要医生或管理员角色）"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads a class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor is not None and (
            actor.can(Permission.WRITE_CLINICAL) or actor.can(Permission.ADMINISTER)
        )


HANDLE_INBOUND = [IsAuthenticated, CanHandleInbound]
