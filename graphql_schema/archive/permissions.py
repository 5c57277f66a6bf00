"""Who may reopen an archive: doctors (who archive) and administrators (information office)."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

REOPEN_ARCHIVES = any_of(
    Permission.WRITE_CLINICAL,
    Permission.ADMINISTER,
    message="没有重新打开归档的权限（需要医生或管理员角色）",
)
